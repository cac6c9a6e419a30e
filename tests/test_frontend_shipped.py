"""Every shipped .prompt file (tasks/, examples/) is in canonical layout and checks clean.
tests/examples is left out: its files are deliberately broken or odd (test_check_examples)."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptdsl.api import check
from promptdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for folder in ("tasks", "examples") for p in (ROOT / folder).rglob("*.prompt"))


def test_there_are_shipped_files():
    assert len(SHIPPED) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_file_is_canonical(path):
    result = CliRunner().invoke(main, ["fmt", "--check", str(path)])
    assert result.exit_code == 0, result.output


def test_shipped_tasks_check_clean():
    assert [str(d) for d in check([str(p) for p in SHIPPED])] == []

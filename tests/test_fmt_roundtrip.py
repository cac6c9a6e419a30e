"""`fmt`: canonical layout, comments kept, idempotent, and the compiled IR never changes."""
import re
import shutil
from pathlib import Path

import pytest

from promptdsl.api import check, compile_file
from promptdsl.syntax.fmt import format_file, format_text

EXAMPLES = Path(__file__).parent / "examples"
ALL = sorted(EXAMPLES.glob("*.prompt")) + sorted((EXAMPLES / "errors").glob("*.prompt"))


def comments(text):
    return [c.strip() for c in re.findall(r"#[^\n]*", text)]


@pytest.mark.parametrize("path", [p for p in ALL if p.name != "unclosed_block.prompt"],
                         ids=lambda p: p.name)
def test_examples_round_trip(path):
    text = path.read_text()
    once = format_text(text, str(path))
    assert once.diagnostics == []
    assert format_text(once.text).text == once.text           # idempotent
    assert comments(once.text) == comments(text)              # every comment kept, in order


@pytest.mark.parametrize("name", ["sst2_zero_shot.prompt", "rte_lora_soft.prompt",
                                  "trec_prefix.prompt", "sst2_ptuning.prompt"])
def test_formatting_never_changes_the_ir(name, tmp_path):
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    shutil.copytree(EXAMPLES.parent / "data", tmp_path / "data")
    before = compile_file(str(target / name)).replace(str(tmp_path), "")
    format_file(target / name)
    format_file(target / "sst2_zero_shot.prompt")
    assert compile_file(str(target / name)).replace(str(tmp_path), "") == before


def test_formatting_keeps_error_diagnostics(tmp_path):
    for path in (EXAMPLES / "errors").glob("*.prompt"):
        if path.name == "unclosed_block.prompt":
            continue
        copy = tmp_path / "examples" / "errors" / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(format_text(path.read_text()).text)
    shutil.copytree(EXAMPLES.parent / "data", tmp_path / "data")
    codes = sorted(d.code for d in check(sorted(str(p) for p in (tmp_path / "examples" / "errors").iterdir())))
    assert codes == ["label-mismatch", "no-mask", "unknown-column", "unknown-field",
                     "unknown-method"]


def test_canonical_layout():
    text = ('task a extends b { # head\n data { test: "x.tsv", label: label }  # trailing\n\n\n'
            ' v { neg: "bad", "awful"  pos: "good",}\n method zero_shot {}\n}\n'
            'sweep a { train.seed: [1,2] }\n')
    assert format_text(text).text == (
        'task a extends b {  # head\n'
        '  data {\n    test: "x.tsv"\n    label: label\n  }  # trailing\n\n'
        '  v {\n    neg: "bad", "awful"\n    pos: "good"\n  }\n'
        '  method zero_shot { }\n}\n\n'
        'sweep a {\n  train.seed: [1, 2]\n}\n')


def test_comments_in_empty_blocks_and_before_braces_stay():
    text = "task a {\n  method x {\n    # why empty\n  }\n  # closing note\n}\n# end\n"
    assert format_text(text).text == text


def test_syntax_errors_are_not_formatted():
    result = format_text("task a { x: 1,, }")
    assert result.text is None and result.diagnostics[0].code == "double-comma"

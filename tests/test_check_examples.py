"""The shipped examples: clean ones check clean, each error example gives the diagnostic its
first comment line states, at that line:column."""
import re
from pathlib import Path

import pytest

from promptdsl.api import check

EXAMPLES = Path(__file__).parent / "examples"
CLEAN = sorted(p for p in EXAMPLES.glob("*.prompt") if p.name != "agnews_kpt.prompt")
ERRORS = sorted((EXAMPLES / "errors").glob("*.prompt"))


def errors_of(path):
    return [d for d in check([str(path)]) if d.is_error]


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_examples_have_no_diagnostics(path):
    assert check([str(path)]) == []


def test_agnews_kpt_reports_exactly_the_mask_placement_error():
    diags = check([str(EXAMPLES / "agnews_kpt.prompt")])
    assert [(d.line, d.code, d.severity) for d in diags] == [(13, "mask-placement", "error")]
    assert "causal" in diags[0].message and "last" in diags[0].message


def _expected(path):
    first = path.read_text().splitlines()[0]
    m = re.search(r"error at (?:line )?(\d+)(?::(\d+)| or (\d+))?", first)
    lines = {int(m.group(1))} | ({int(m.group(3))} if m.group(3) else set())
    column = int(m.group(2)) if m.group(2) else None
    if "pointing at line" in first:
        lines = {int(re.search(r"pointing at line (\d+)", first).group(1))}
    return lines, column


@pytest.mark.parametrize("path", ERRORS, ids=lambda p: p.name)
def test_error_examples_point_where_their_comment_says(path):
    lines, column = _expected(path) if "error at" in path.read_text().splitlines()[0] else \
        ({int(re.search(r"line (\d+)", path.read_text().splitlines()[0]).group(1))}, None)
    found = errors_of(path)
    assert len(found) == 1, found
    assert found[0].line in lines
    if column is not None:
        assert found[0].column == column


EXPECTED_CODES = {
    "label_mismatch.prompt": ("label-mismatch", ["neg", "pos", "0", "1"]),
    "no_mask.prompt": ("no-mask", ["[MASK]"]),
    "typo_field.prompt": ("unknown-field", ["learnig_rate", "train"]),
    "unclosed_block.prompt": ("unclosed-brace", ["never closed"]),
    "unknown_field_in_template.prompt": ("unknown-column", ["sentense", "sentence, label"]),
    "unknown_method.prompt": ("unknown-method", ["ptunning"]),
}
HINTS = {"typo_field.prompt": "learning_rate", "unknown_field_in_template.prompt": "sentence",
         "unknown_method.prompt": "did you mean `ptuning`?"}


@pytest.mark.parametrize("name", sorted(EXPECTED_CODES))
def test_error_examples_say_what_is_wrong(name):
    diag, = errors_of(EXAMPLES / "errors" / name)
    code, words = EXPECTED_CODES[name]
    assert diag.code == code
    for word in words:
        assert word in diag.message
    if name in HINTS:
        assert HINTS[name] in diag.hint


def test_unknown_method_lists_the_installed_methods():
    diag, = errors_of(EXAMPLES / "errors" / "unknown_method.prompt")
    assert "installed methods:" in diag.hint and "zero_shot" in diag.hint

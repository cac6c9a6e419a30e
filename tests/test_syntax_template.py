"""The template inner language: pieces, positions mapped into the file, errors and near misses."""
import pytest

from promptdsl.syntax.parse import parse_text
from promptdsl.syntax.template import parse_template


def template_of(literal):
    result = parse_text("task t {\n  template: " + literal + "\n}\n")
    assert not [d for d in result.diagnostics if d.is_error]
    value = result.file.items[0].body[0].value
    return parse_template(value, result.source)


def pieces(literal):
    template, problems = template_of(literal)
    assert problems == []
    return template.pieces


def test_every_piece_kind():
    got = pieces('"<soft*3> {sentence|keep|nopunct} <soft> [MASK:a] {{x}} [SEP][CLS] '
                 '<soft \'It was\'> {\'review text\'}"')
    assert got == [
        {"type": "soft", "count": 3, "init": None, "name": None}, {"type": "text", "text": " "},
        {"type": "field", "name": "sentence", "filters": ["keep", "nopunct"], "shortenable": False},
        {"type": "text", "text": " "}, {"type": "soft", "count": 1, "init": None, "name": None},
        {"type": "text", "text": " "}, {"type": "mask", "name": "a"},
        {"type": "text", "text": " {x} "}, {"type": "special", "token": "sep"},
        {"type": "special", "token": "cls"}, {"type": "text", "text": " "},
        {"type": "soft", "count": None, "init": "It was", "name": None},
            {"type": "text", "text": " "},
        {"type": "field", "name": "review text", "filters": [], "shortenable": True}]


def test_brackets_that_start_nothing_are_text():
    assert pieces('"a < b [x] c"') == [{"type": "text", "text": "a < b [x] c"}]


def test_positions_map_through_escapes_and_triple_quotes():
    template, _ = template_of('"a\\n\\"b\\" {x} [MASK]"')
    field = template.spans[1]
    assert (field.line, field.column) == (2, 23)
    template, _ = template_of('"""\nfirst\n  {x} [MASK]"""')
    assert (template.spans[1].line, template.spans[1].column) == (4, 3)


@pytest.mark.parametrize("literal,code,column", [
    ('"a [MASK:] b"', "bad-mask", 16),
    ('"x <softer> y"', "bad-soft", 16),
    ('"<soft*0>"', "bad-soft", 14),
    ('"{a b"', "bad-field", 14),
    ('"x}"', "template-syntax", 15),
    ('"{x|lowr} [MASK]"', "unknown-filter", 17),
])
def test_template_errors(literal, code, column):
    _, problems = template_of(literal)
    diag, = problems
    assert diag.code == code and diag.line == 2 and diag.column == column, diag
    assert diag.is_error


def test_unknown_filter_suggests():
    _, (diag,) = template_of('"{x|lowr} [MASK]"')
    assert "did you mean `lower`" in diag.hint


@pytest.mark.parametrize("literal,meant", [('"[mask] x [MASK]"', "[MASK]"),
                                           ('"[MAKS] x [MASK]"', "[MASK]"),
                                           ('"<sfot> [MASK]"', "<soft>")])
def test_near_misses_warn(literal, meant):
    _, problems = template_of(literal)
    diag, = problems
    assert diag.severity == "warning" and meant in diag.hint and diag.column == 14

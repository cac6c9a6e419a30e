"""The outer grammar: every construct parses to the right AST, and syntax errors are located
and explained (never a parser dump)."""
import logging

import pytest
from lark import Lark

from promptdsl.syntax import ast
from promptdsl.syntax.grammar import grammar_text
from promptdsl.syntax.parse import parse_text, parse_value


def parse_ok(text):
    result = parse_text(text)
    assert result.diagnostics == [], result.diagnostics
    return result.file


def fields(text):
    task, = parse_ok(f"task t {{\n{text}\n}}\n").items
    return {e.key: e.value for e in task.body if isinstance(e, ast.Field)}


@pytest.mark.parametrize("name", ["prompt.lark", "template.lark"])
def test_grammars_have_no_lalr_conflicts(name, caplog):
    with caplog.at_level(logging.DEBUG, logger="lark"):
        Lark(grammar_text(name), parser="lalr", lexer="contextual", debug=True,
             start=["start", "value_seq"] if name == "prompt.lark" else "start")
    assert not [r for r in caplog.records if "conflict" in r.getMessage().lower()]


def test_top_level_items():
    file = parse_ok('# c\nimport "a.prompt"\ntask a extends b { }\nsweep a { x.y: [1] }\n')
    imp, task, sweep = file.items
    assert imp.path.value == "a.prompt" and task.extends == "b" and task.extends_span.column == 16
    assert sweep.body[0].key == "x.y" and len(file.comments) == 1


def test_values():
    got = fields('a: "x\\ty"\nb: \'s\'\nc: 16\nd: -1e-5\ne: 0.06\nf: true\ng: false\nh: name\n'
                 'i: [1, "two", [three]]\nj: text "It was"\nk: x, y, z\nl: [a, b,]\nm: 1,\n')
    assert got["a"].value == "x\ty" and got["b"].value == "s"
    assert got["c"].value == 16 and isinstance(got["c"].value, int)
    assert got["d"].value == -1e-5 and isinstance(got["e"].value, float)
    assert got["f"].value is True and got["g"].value is False
    assert isinstance(got["h"], ast.Ident)
    assert ast.plain(got["i"]) == [1, "two", ["three"]]
    assert ast.plain(got["j"]) == {"text": "It was"}
    assert got["k"].implicit and ast.plain(got["k"]) == ["x", "y", "z"]
    assert ast.plain(got["l"]) == ["a", "b"] and ast.plain(got["m"]) == 1


def test_triple_quoted_strings():
    got = fields('t: """\nline one\n# not a comment\n\n  "quoted" \\n"""')
    assert got["t"].value == 'line one\n# not a comment\n\n  "quoted" \n'


def test_escapes():
    got = fields(r'a: "\n\t\r\"\'\\\u00e9"')
    assert got["a"].value == "\n\t\r\"'\\é"


def test_surrogate_pair_escapes_join_and_lone_halves_are_errors():
    assert fields(r'a: "\ud83d\ude00"')["a"].value == "\U0001F600"
    result = parse_text('task t {\n  a: "x\\ud800y"\n}\n')
    bad, = result.diagnostics
    assert (bad.line, bad.column) == (2, 8) and "surrogate" in bad.message
    assert "\ud800" not in str(result.file.items[0].body[0].value.value)  # never an unencodable str


def test_keys_lead_fields_without_commas():
    task, = parse_ok('task t { verbalizer { neg: "bad", "awful"  pos: "good" "0": "x" } '
                     'data { test: "x.tsv", label: label } }').items
    verbalizer, data = task.body
    assert [f.key for f in verbalizer.body] == ["neg", "pos", "0"]
    assert verbalizer.body[2].quoted
    assert ast.plain(verbalizer.body[0].value) == ["bad", "awful"]
    assert [f.key for f in data.body] == ["test", "label"]


def test_blocks_with_kind_and_trailing_commas():
    task, = parse_ok("task t {\n  method lora { r: 8, alpha: 16, },\n  method zero_shot { }\n}").items
    assert [(b.name, b.kind) for b in task.body] == [("method", "lora"), ("method", "zero_shot")]
    assert task.body[0].kind_span.column == 10


def test_crlf_line_ends_are_normalised():
    file = parse_ok('task t {\r\n  model: "m"\r\n}\r\n')
    assert file.items[0].body[0].value.span.line == 2


def test_positions_are_one_based_characters():
    task, = parse_ok('task t {\n\tmodel: "é"  x: 1\n}').items
    model, x = task.body
    assert (model.key_span.line, model.key_span.column) == (2, 2)
    assert x.key_span.column == 14


def error_of(text):
    result = parse_text(text)
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors, "expected a syntax error"
    return errors[0]


@pytest.mark.parametrize("text,code,where", [
    ("task a { x: 1,, y: 2 }", "double-comma", (1, 15)),
    ('task a {\n  m: "abc\n}', "unterminated-string", (2, 6)),
    ('task a { m: "a\\qb" }', "bad-escape", (1, 15)),
    ("task a {\n  b {\n    x: 1\n}\n", "unclosed-brace", (2, 5)),
    ("task a { } }", "unmatched-brace", (1, 12)),
    ("task a { lr 1e-5 }", "syntax", (1, 10)),
    ('task a {\n  model: roberta-large\n}', "syntax", (2, 10)),
    ("task a { q: }", "syntax", (1, 13)),
    ("@@@", "syntax", (1, 1)),
])
def test_syntax_errors_are_located(text, code, where):
    diag = error_of(text)
    assert diag.code == code and (diag.line, diag.column) == where, diag
    assert "Token(" not in diag.message and "Expected one of" not in diag.message


def test_brace_on_the_next_line_is_explained():
    diag = error_of("task a {\n  data\n  { x: 1 }\n}")
    assert (diag.line, diag.column) == (2, 3) and "same line" in diag.message


def test_missing_colon_hint():
    diag = error_of("task a { lr 1e-5 }")
    assert "`lr: value`" in diag.hint


def test_error_in_one_task_does_not_hide_the_next():
    result = parse_text("task a { x: }\ntask b { y: ,, }\ntask c { ok: 1 }\n")
    assert [d.line for d in result.diagnostics] == [1, 2]
    assert [t.name for t in result.file.items] == ["c"]


def test_several_syntax_errors_in_one_task():
    result = parse_text('task a {\n  x: 1,,\n  y: roberta-large\n  z 3\n  ok: 1\n}\n')
    assert [(d.line, d.code) for d in result.diagnostics] == [
        (2, "double-comma"), (3, "syntax"), (4, "syntax")]
    assert result.file.items == []          # no half-parsed task: no cascade of errors


def test_keywords_are_names_inside_blocks():
    got = fields("task: 1\nsweep: import\n")
    assert got["task"].value == 1 and got["sweep"].value == "import"


def test_parse_value_for_overrides():
    value, problems = parse_value("[1, 2]", "<--set x>")
    assert problems == [] and ast.plain(value) == [1, 2]
    value, problems = parse_value("1,,", "<--set x>")
    assert value is None and problems[0].code == "double-comma"


def test_grammars_build_in_lark_strict_mode():
    """Strict mode (terminal collisions are errors) needs the optional `interegular`."""
    pytest.importorskip("interegular")
    from promptdsl.syntax.grammar import outer_parser, template_parser
    outer_parser(True)
    template_parser(True)


@pytest.mark.parametrize("text,hint", [
    ("tsak t { }", "did you mean `task`?"),
    ("task t {\n  template: {sentence} [MASK]\n}", "quoted string"),
    ('task t {\n  verbalizer { 0: "bad" }\n}', '`"0": …`'),
])
def test_common_mistakes_get_a_hint(text, hint):
    assert hint in error_of(text).hint

"""Named, shared soft tokens (`<soft:topic>`): the grammar, IR pieces, fmt, the located check,
and the compiled template handing one row set per name to every use."""
import pytest

from promptdsl.api import check
from promptdsl.model.compile import compile_task
from promptdsl.syntax.fmt import format_text
from promptdsl.syntax.parse import parse_text
from promptdsl.syntax.template import parse_template
from promptdsl.syntax.source import cached_source


def pieces_and_problems(template: str):
    parsed = parse_text(f"task t {{ template: {template} }}", "<soft-names>")
    value = parsed.file.items[0].body[0].value
    result, problems = parse_template(value, cached_source("<soft-names>"))
    return (result.pieces if result else None), problems


def softs(template: str) -> list:
    pieces, problems = pieces_and_problems(template)
    assert problems == []
    return [p for p in pieces if p["type"] == "soft"]


def test_named_soft_pieces_in_the_ir():
    assert softs('''"<soft:topic> <soft:t*3> <soft:x 'It was'> <soft>"''') == [
        {"type": "soft", "count": 1, "init": None, "name": "topic"},
        {"type": "soft", "count": 3, "init": None, "name": "t"},
        {"type": "soft", "count": None, "init": "It was", "name": "x"},
        {"type": "soft", "count": 1, "init": None, "name": None}]


@pytest.mark.parametrize("bad", ["<soft:>", "<soft*>", "<soft:a:b>", "<soft: a>", "<soft:1>"])
def test_a_malformed_soft_token_is_one_located_error(tmp_path, bad):
    (tmp_path / "d.tsv").write_text("sentence\tlabel\ngood\t1\nbad\t0\n")
    path = tmp_path / "t.prompt"
    path.write_text('task t {\n  model: "smollm2-135m"\n  data { test: "d.tsv" }\n'
                    f'  template: "{bad} {{sentence}} [MASK]"\n'
                    '  verbalizer { "0": "bad"  "1": "good" }\n  method zero_shot { }\n}\n')
    diag, = [d for d in check([str(path)]) if d.is_error]     # no "task has no template"
    assert (diag.code, diag.line, diag.column) == ("bad-soft", 4, 14)
    assert "<soft:name>" in diag.hint


def test_uses_of_one_name_must_agree():
    _, problems = pieces_and_problems('"<soft:a*2> {x} <soft:a*2> <soft:a> [MASK]"')
    diag, = problems
    assert diag.code == "soft-mismatch" and diag.column == 47
    assert "`<soft:a>`" in diag.message and "`<soft:a*2>`" in diag.message
    _, problems = pieces_and_problems('''"<soft:a 'It was'> <soft:a 'It is'> [MASK]"''')
    assert [d.code for d in problems] == ["soft-mismatch"]


def test_fmt_keeps_named_soft_tokens_and_null():
    text = ('task t {\n  template: "<soft:topic*2> {x} <soft:topic*2> [MASK]"\n  data {\n'
            '    validation: null\n  }\n}\n')
    result = format_text(text)
    assert result.diagnostics == [] and result.text == text


def test_one_row_set_per_name(tiny_model_dir, make_task):
    template = "<soft:topic*2> {sentence} <soft> and <soft:topic*2> It was [MASK] ."
    pieces, problems = pieces_and_problems(f'"{template}"')
    assert problems == []
    task = make_task(tiny_model_dir("bert"), template, pieces=pieces)
    model = compile_task(task)
    soft = [p for p in model.template.pieces if p["type"] == "soft"]
    assert [(p["name"], p["first"], p["count"]) for p in soft] == \
        [("topic", 0, 2), (None, 2, 1), ("topic", 0, 2)]
    assert model.template.n_soft == 3 and model.soft_prompt.n_soft == 3
    assert [p["name"] for p in model.template.soft_pieces()] == ["topic", None]
    features = model.encode([{"sentence": "good film", "label": "1"}])
    row = [i for i in features.soft.tolist() if i >= 0]
    assert row == [0, 1, 2, 0, 1]             # both uses read the same two rows

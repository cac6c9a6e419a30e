"""`promptc check` of generation tasks (a `target`: the text the [MASK] slot produces): a clean
one passes; each thing the runtime will not do is an error with its code at its place; `--set`,
sweeps, `compile` and `fmt` work on them."""
import json

import jsonschema
import pytest

from promptdsl import MethodSpec, MetricSpec, hookimpl, registry
from promptdsl.api import check, compile_file, load
from promptdsl.ir import analyse, ir_schema
from promptdsl.specs import TEXT_METRIC
from promptdsl.syntax.fmt import format_file

from tiny import frontend_project

DATA = "document\tsummary\nlong text here\tshort\nmore text\tbrief\n"


class ToyPlugin:
    """A text metric and a classification-only method, so the rules are tested on names this
    test owns (the built-in text metrics are another plugin's)."""

    @hookimpl
    def promptdsl_metrics(self):
        return [MetricSpec("toy_text", lambda predictions, references: 0.0, kind=TEXT_METRIC)]

    @hookimpl
    def promptdsl_methods(self):
        return [MethodSpec("toy_classifier", lambda model, options: None, generation=False)]


@pytest.fixture
def project(tmp_path, tiny_model_dir):
    """t.prompt next to g.tsv (document, summary: no label column), d.tsv (sentence, label),
    ./causal (a tiny GPT-2) and ./mlm (a BERT config); the toy plugin registered."""
    frontend_project(tmp_path)
    (tmp_path / "g.tsv").write_text(DATA)
    (tmp_path / "causal").symlink_to(tiny_model_dir("gpt2"))
    registry.register(ToyPlugin(), name="toy-generation")

    def write(text, name="t.prompt"):
        (tmp_path / name).write_text(text)
        return str(tmp_path / name)
    yield write
    registry.reset()


def task(model="./causal", data='train: "g.tsv", test: "g.tsv"',
         template="summarize: {document} [MASK]", target='"{summary}"', method="finetune",
         more=""):
    return (f'task t {{\n  model: "{model}"\n  data {{ {data} }}\n  template: "{template}"\n'
            f"  target: {target}\n  method {method} {{ }}\n{more}}}\n")


def found(path, **overrides):
    """(code, line, column) of every diagnostic, errors and warnings."""
    if overrides:
        return [(d.code, d.line, d.column) for d in analyse(path, overrides=overrides).diagnostics]
    return [(d.code, d.line, d.column) for d in check([path])]


def test_a_clean_generation_task_has_no_diagnostics(project):
    path = project(task(more="  generate { beams: 2, stop: \"###\" }\n"))
    assert check([path]) == []
    ir = load(path)
    assert ir["verbalizer"] is None and ir["target"]["pieces"][0]["name"] == "summary"
    assert ir["metric"] == "bleu"                       # the default metric of generation
    assert ir["generate"] == {"max_new_tokens": 32, "beams": 2, "do_sample": False,
                              "temperature": 1.0, "top_p": 1.0, "stop": ["###"]}
    assert load(project(task()))["generate"]["stop"] is None


def test_a_target_and_a_verbalizer_together_is_an_error_at_the_verbalizer(project):
    path = project(task(more='  verbalizer { a: "b" }\n'))
    assert found(path) == [("target-and-verbalizer", 7, 3)]


def test_a_target_holds_text_and_fields_only(project):
    path = project(task(target='"[MASK] {summary} <soft> [SEP]"'))
    assert found(path) == [("bad-target", 5, 12), ("bad-target", 5, 29), ("bad-target", 5, 36)]
    (diag,) = [d for d in check([project(task(target='"fixed"'))])]
    assert (diag.code, diag.severity, diag.line, diag.column) == ("constant-target", "warning",
                                                                  5, 11)


def test_the_template_still_needs_one_mask_with_a_hint_about_the_target(project):
    (diag,) = check([project(task(template="summarize: {document}"))])
    assert (diag.code, diag.line) == ("no-mask", 4) and "target" in diag.hint
    assert "verbalizer" not in diag.hint and "label" not in diag.hint
    path = project(task(template="[MASK] {document} [MASK]"))
    (diag,) = [d for d in check([path]) if d.code == "several-masks"]
    assert (diag.line, diag.column) == (4, 32)
    assert "target" in diag.hint and "verbalizer" not in diag.hint


def test_a_masked_lm_cannot_generate(project):
    assert found(project(task(model="./mlm"))) == [("generation-model", 5, 3)]


def test_neither_target_nor_verbalizer_names_both(project):
    path = project(task().replace('  target: "{summary}"\n', ""))
    (diag,) = [d for d in check([path]) if d.code == "missing-block"]
    assert "target:" in diag.hint and "verbalizer" in diag.hint


def test_a_malformed_target_is_its_own_error_only(project):
    path = project(task(target='"{ summary }"', more="  metric: toy_text\n"))
    assert [code for code, _, _ in found(path)] == ["bad-field"]


def test_a_metric_of_the_other_kind_is_an_error_listing_the_right_ones(project):
    (diag,) = check([project(task(more="  metric: accuracy\n"))])
    assert (diag.code, diag.line, diag.column) == ("metric-kind", 7, 11)
    assert "toy_text" in diag.hint and "accuracy" not in diag.hint
    classify = ('task c {\n  model: "./mlm"\n  data { test: "d.tsv" }\n'
                '  template: "{sentence} It was [MASK]."\n'
                '  verbalizer { "0": "bad"  "1": "good" }\n  method zero_shot { }\n'
                '  metric: toy_text\n}\n')
    (diag,) = check([project(classify, "c.prompt")])
    assert (diag.code, diag.line, diag.column) == ("metric-kind", 7, 11)
    assert "accuracy" in diag.hint and "toy_text" not in diag.hint
    assert load(project(classify.replace("  metric: toy_text\n", ""), "c.prompt"))["metric"] \
        == "accuracy"


def test_a_swept_metric_of_the_other_kind_is_an_error_at_its_item(project):
    path = project(task() + "sweep t { metric: [toy_text, accuracy] }\n")
    assert found(path) == [("metric-kind", 8, 30)]


def test_a_classification_only_method_is_an_error_at_its_name(project):
    assert found(project(task(method="toy_classifier"))) == [("method-needs-verbalizer", 6, 10)]


def test_shots_and_demonstrations_are_errors_on_a_generation_task(project):
    path = project(task(data='train: "g.tsv", shots: 4, demonstrations: 2'))
    assert found(path) == [("shots-need-labels", 3, 33), ("not-supported", 3, 52)]
    assert found(project(task(data='train: "g.tsv", train_rows: 1'))) == []


def test_a_generate_block_in_a_classification_task_is_unused(project):
    text = ('task c {\n  model: "./mlm"\n  data { test: "d.tsv" }\n'
            '  template: "{sentence} It was [MASK]."\n'
            '  verbalizer { "0": "bad"  "1": "good" }\n  method zero_shot { }\n'
            '  generate { beams: 4 }\n}\n')
    (diag,) = check([project(text)])
    assert (diag.code, diag.severity, diag.line, diag.column) == ("unused-generate", "warning",
                                                                  7, 3)


def test_target_fields_are_columns_of_labelled_files_but_not_of_unlabeled(project, tmp_path):
    (tmp_path / "docs.tsv").write_text("document\nsome text\n")
    path = project(task(data='train: "g.tsv", test: "docs.tsv", unlabeled: "docs.tsv"'))
    (diag,) = check([path])
    assert (diag.code, diag.line, diag.column) == ("unknown-column", 5, 12)
    assert diag.message.startswith("target field `{summary}` is not a column of docs.tsv")


@pytest.mark.parametrize("block, message", [
    ("beams: 65", "`generate.beams` must be at most 64"),
    ("max_new_tokens: 5000", "`generate.max_new_tokens` must be at most 4096"),
    ('stop: ["###", ""]', "`generate.stop` items must not be empty")])
def test_generate_options_have_bounds(project, block, message):
    (diag,) = check([project(task(more=f"  generate {{ {block} }}\n"))])
    assert diag.code == "invalid-value" and diag.line == 7 and message in diag.message


def test_set_reaches_generate_and_refuses_a_verbalizer_option(project):
    path = project(task())
    assert load(path, overrides={"generate.beams": "4"})["generate"]["beams"] == 4
    (diag,) = analyse(path, overrides={"verbalizer.calibrate": "contextual"}).diagnostics
    assert diag.code == "unknown-field" and "has no `verbalizer`" in diag.message
    (diag,) = check([project(task() + "sweep t { verbalizer.calibrate: [none, prior] }\n")])
    assert (diag.code, diag.line) == ("unknown-field", 8)
    assert "has no verbalizer (it generates its `target`)" in diag.message


def test_compile_validates_against_the_schema_and_fmt_round_trips(project):
    path = project('task t {\n  model:"./causal"\n  data { train: "g.tsv",test: "g.tsv" }\n'
                   '  template: "summarize: {document} [MASK]"\n  target:  "{summary}"\n'
                   '  method finetune { }\n  generate { beams: 4, stop: ["\\n", "###"]\n'
                   "    do_sample: false }\n}\n")
    before = compile_file(path)
    jsonschema.validate(json.loads(before), ir_schema())
    format_file(path)
    text = open(path).read()
    assert '  target: "{summary}"\n' in text and '    stop: ["\\n", "###"]\n' in text
    assert compile_file(path) == before

"""Semantic checks: each diagnostic, located, with every error of a file found in one pass."""
import json

import pytest

from promptdsl.api import check, load
from promptdsl.errors import TaskError

DATA = "sentence\tlabel\ngood film\t1\nbad film\t0\n"


@pytest.fixture
def project(tmp_path):
    """Write .prompt files next to a small TSV and two local model folders (configs only)."""
    (tmp_path / "d.tsv").write_text(DATA)
    for name, arch in (("mlm", "BertForMaskedLM"), ("causal", "LlamaForCausalLM")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"architectures": [arch]}))

    def write(text, name="t.prompt"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def task(body="", model="./mlm", template="{sentence} It was [MASK].", method="zero_shot",
         verbalizer='verbalizer { "0": "bad"  "1": "good" }', data='test: "d.tsv"'):
    return (f'task t {{\n  model: "{model}"\n  data {{ {data} }}\n  template: "{template}"\n'
            f'  {verbalizer}\n  method {method} {{ }}\n{body}}}\n')


def codes(diags, severity="error"):
    return [d.code for d in diags if d.severity == severity]


def test_a_clean_task_has_no_diagnostics(project):
    assert check([project(task())]) == []


def test_every_semantic_error_is_reported_in_one_pass(project):
    text = task(body="  train { learnig_rate: 1e-3 }\n", method="ptunning",
                template="{sentense} It was [MASK].", data='test: "missing.tsv"')
    text = text.replace('model: "./mlm"', 'modle: "./mlm"')
    diags = check([project(text)])
    assert {"unknown-field", "unknown-method", "missing-file"} <= set(codes(diags))
    assert len(codes(diags)) >= 5          # + missing model, the typo field in train
    assert all(d.line >= 1 and d.column >= 1 for d in diags)


def test_unknown_top_level_field_suggests(project):
    diags = check([project(task(body="  metrc: accuracy\n"))])
    diag, = [d for d in diags if d.code == "unknown-field"]
    assert "metrc" in diag.message and "did you mean `metric`" in diag.hint
    assert (diag.line, diag.column) == (7, 3)


def test_field_given_as_block_and_block_as_field(project):
    diags = check([project(task(body='  train: "fast"\n  template { x: 1 }\n'))])
    assert codes(diags).count("field-or-block") == 2


def test_duplicate_field_points_at_both(project):
    diags = check([project(task(body="  train { epochs: 1\n    epochs: 2 }\n"))])
    diag, = [d for d in diags if d.code == "duplicate-field"]
    assert diag.line == 8 and "line 7" in diag.hint


def test_dotted_key_only_in_sweeps(project):
    diags = check([project(task(body="  train.epochs: 3\n"))])
    assert "dotted-key" in codes(diags)


def test_schema_errors_are_located_at_the_value(project):
    body = '  train {\n    epochs: "many"\n    device: cuda0\n    warmup_ratio: 2\n  }\n'
    diags = [d for d in check([project(task(body=body))]) if d.code == "invalid-value"]
    by_line = {d.line: d for d in diags}
    assert "must be an integer" in by_line[8].message and by_line[8].column == 13
    assert "one of" in by_line[9].message and "did you mean `cuda`" in by_line[9].hint
    assert "at most 1" in by_line[10].message


def test_method_options_are_checked_against_the_plugin_schema(project):
    text = task(method="lora").replace("method lora { }", "method lora { rank: 8 }")
    text = text.replace('test: "d.tsv"', 'train: "d.tsv", test: "d.tsv"')
    diag, = [d for d in check([project(text)]) if d.is_error]
    assert diag.code == "unknown-field" and "`rank`" in diag.message
    assert "method `lora`" in diag.message


def test_option_defaults_are_filled(project):
    text = task(method="lora").replace('test: "d.tsv"', 'train: "d.tsv", test: "d.tsv"')
    ir = load(project(text))
    options = ir["methods"][0]["options"]
    from promptdsl.registry import get_registry
    schema = get_registry().methods["lora"].schema
    defaults = {k: p["default"] for k, p in schema["properties"].items() if "default" in p}
    assert options and list(options.items()) == list(defaults.items())


def test_verbalizer_keys_options_and_labels(project):
    verbalizer = 'verbalizer { "0": "bad"  "1": "good"  multi_token: first }'
    ir = load(project(task(verbalizer=verbalizer)))
    assert [entry["label"] for entry in ir["verbalizer"]["labels"]] == ["0", "1"]
    assert ir["verbalizer"]["options"]["multi_token"] == "first"


def test_bare_key_that_is_no_option_is_a_label(project):
    data = 'test: "d.tsv"'
    text = task(verbalizer='verbalizer { neg: "bad" pos: "good" }', data=data)
    diags = check([project(text)])
    assert codes(diags) == ["label-mismatch"]


def test_labels_of_the_data_without_words(project):
    diags = check([project(task(verbalizer='verbalizer { "0": "bad" }'))])
    diag, = diags                       # the data's problem, at its first row
    assert diag.code == "bad-data" and diag.message.startswith("d.tsv:2: label '1'")


def test_unknown_verbalizer_kind_lists_installed(project):
    diags = check([project(task(verbalizer='verbalizer knowledgable { "0": "a" "1": "b" }'))])
    diag, = [d for d in diags if d.code == "unknown-verbalizer"]
    assert "did you mean `knowledgeable`" in diag.hint and "manual" in diag.hint


def test_no_mask_and_several_masks(project):
    assert codes(check([project(task(template="{sentence} great"))])) == ["no-mask"]
    diags = check([project(task(template="[MASK] {sentence} [MASK]"))])
    assert codes(diags) == ["several-masks"]


def test_named_masks_bind_with_mask_field(project):
    template = "[MASK:topic] {sentence} [MASK:mood]"
    ok = task(template=template, verbalizer='verbalizer { mask: mood  "0": "bad" "1": "good" }')
    assert check([project(ok)]) == []
    bad = ok.replace("mask: mood", "mask: mod")
    diag, = check([project(bad)])
    assert diag.code == "unknown-mask" and "did you mean `mood`" in diag.hint


def test_template_and_templates_exclusive(project):
    diags = check([project(task(body='  templates { a: "{sentence} [MASK]" }\n'))])
    assert "template-and-templates" in codes(diags)


def test_causal_model_needs_the_mask_last(project):
    diags = check([project(task(model="./causal", template="[MASK]: {sentence}"))])
    diag, = diags
    assert diag.code == "mask-placement" and (diag.line, diag.column) == (4, 14)
    assert check([project(task(model="./causal", template="{sentence} It was [MASK]"))]) == []


def test_unknown_model_config_is_a_warning_not_an_error(project):
    diags = check([project(task(model="no-such-model-anywhere"))])
    assert codes(diags) == [] and codes(diags, "warning") == ["unknown-family"]


def test_soft_tokens_under_zero_shot_warn(project):
    diags = check([project(task(template="<soft> {sentence} [MASK]"))])
    assert codes(diags, "warning") == ["untrained-soft"]
    assert codes(diags) == []


def test_near_miss_slots_warn(project):
    diags = check([project(task(template="{sentence} [MASK] [mask] [sep]"))])
    assert codes(diags, "warning") == ["near-miss", "near-miss"]


def test_training_method_needs_train_data(project):
    diags = check([project(task(method="finetune"))])
    assert codes(diags) == ["missing-split"]


def test_label_column_must_exist(project):
    diags = check([project(task(data='test: "d.tsv", label: gold'))])
    diag, = diags
    assert diag.code == "unknown-column" and "gold" in diag.message


def test_missing_data_file_points_at_the_path(project):
    diag, = check([project(task(data='test: "nope.tsv"'))])
    assert diag.code == "missing-file" and (diag.line, diag.column) == (3, 16)


def test_load_raises_task_error_with_diagnostics(project):
    with pytest.raises(TaskError) as err:
        load(project(task(template="{sentence}")))
    assert err.value.diagnostics[0].code == "no-mask"


def test_a_missing_word_list_for_kpt_is_located_at_its_path(project, tmp_path):
    verbalizer = 'verbalizer knowledgeable {\n  "0": "bad"\n  "1": "good"\n  expand: "words.txt"\n}'
    missing, = [d for d in check([project(task(verbalizer=verbalizer))]) if d.is_error]
    assert (missing.code, missing.line, missing.column) == ("missing-file", 8, 11)
    (tmp_path / "words.txt").write_text("awful\ngreat\n")
    ir = load(project(task(verbalizer=verbalizer)))
    assert ir["verbalizer"]["options"]["expand"] == str(tmp_path / "words.txt")


def test_pet_names_only_templates_of_the_task(project):
    templates = 'templates {\n  a: "{sentence} It was [MASK]."\n  b: "{sentence} So [MASK]."\n}'
    body = task(template="x", method="pet", data='train: "d.tsv", test: "d.tsv"')
    body = body.replace('  template: "x"\n', f"  {templates}\n")
    assert not [d for d in check([project(body)]) if d.is_error]
    bad = body.replace("method pet { }", "method pet { templates: [a, c] }")
    wrong, = [d for d in check([project(bad)]) if d.is_error]
    assert wrong.code == "unknown-template" and "`c`" in wrong.message and wrong.line == 9

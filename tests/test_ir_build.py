"""The task IR: key order, defaults, absolute paths, byte stability, the published schema,
extends / imports / sweeps / --set."""
import json
from pathlib import Path

import jsonschema
import pytest

from promptdsl.api import check, compile_file, load, load_all
from promptdsl.errors import TaskError
from promptdsl.ir import analyse, expand_sweep, ir_schema
from promptdsl.ir.schema import TOP_KEYS, TRAIN

EXAMPLES = Path(__file__).parent / "examples"
from tiny import FRONTEND_DATA as DATA, FRONTEND_TASK, frontend_project


@pytest.fixture
def folder(tmp_path):
    return frontend_project(tmp_path)


BASE = FRONTEND_TASK.replace("  method finetune { }\n",
                             "  method finetune { }\n  train { epochs: 2, learning_rate: 1 }\n")


def write(folder, text, name="t.prompt"):
    (folder / name).write_text(text)
    return str(folder / name)


def test_ir_keys_defaults_and_absolute_paths(folder):
    ir = load(write(folder, BASE))
    assert tuple(ir) == TOP_KEYS
    assert ir["data"]["train"] == str(folder / "d.tsv")
    assert ir["model"] == str(folder / "mlm")
    assert list(ir["train"]) == list(TRAIN["properties"])
    assert ir["train"]["epochs"] == 2 and ir["train"]["batch_size"] == 8
    assert ir["train"]["learning_rate"] == 1.0 and isinstance(ir["train"]["learning_rate"], float)
    assert ir["data"]["sample_seed"] == 13 and ir["data"]["label"] == "label"
    assert ir["verbalizer"]["kind"] == "manual" and ir["metric"] == "accuracy"
    assert ir["template"]["pieces"][0] == {"type": "field", "name": "sentence", "filters": [],
                                           "shortenable": True}
    assert ir["sweep"] is None and ir["generate"] is None


@pytest.mark.parametrize("name", ["sst2_ptuning.prompt", "rte_lora_soft.prompt",
                                  "trec_prefix.prompt", "sst2_zero_shot.prompt"])
def test_compiled_examples_validate_against_the_published_schema(name):
    text = compile_file(str(EXAMPLES / name))
    jsonschema.validate(json.loads(text), ir_schema())


def test_compile_is_byte_stable():
    path = str(EXAMPLES / "rte_lora_soft.prompt")
    assert compile_file(path) == compile_file(path)
    ir = json.loads(compile_file(path))
    assert ir["methods"][0]["options"]["init"] == {"text": "Does the first sentence imply the second?"}
    assert ir["methods"][1]["options"]["target"] == ["q_proj", "v_proj"]


def test_extends_merges_block_by_block(folder):
    text = BASE + '''
task child extends base {
  train { learning_rate: 5e-4 }
  method lora { r: 4 }
  verbalizer { "1": "great" }
}
'''
    ir = load(write(folder, text), task="child")
    assert ir["train"]["epochs"] == 2 and ir["train"]["learning_rate"] == 5e-4
    assert [m["name"] for m in ir["methods"]] == ["lora"]         # methods replace the list
    assert ir["verbalizer"]["labels"] == [{"label": "0", "words": ["bad"]},
                                          {"label": "1", "words": ["great"]}]
    assert ir["file"] == str(folder / "t.prompt")


def test_verbalizer_of_another_kind_replaces(folder):
    text = BASE + 'task child extends base {\n  verbalizer soft { "0": "no" "1": "yes" }\n}\n'
    ir = load(write(folder, text), task="child")
    assert ir["verbalizer"]["kind"] == "soft"


def test_import_brings_tasks_into_scope(folder):
    write(folder, BASE, "base.prompt")
    path = write(folder, 'import "base.prompt"\n\ntask mine extends base {\n  train { seed: 7 }\n}\n')
    tasks = load_all(path)
    assert list(tasks) == ["mine"] and tasks["mine"]["train"]["seed"] == 7


def test_import_cycle_and_extends_cycle(folder):
    write(folder, 'import "b.prompt"\n', "a.prompt")
    path = write(folder, 'import "a.prompt"\n', "b.prompt")
    assert [d.code for d in check([path])] == ["import-cycle"]
    text = BASE + "task x extends y { }\ntask y extends x { }\n"
    diags = check([write(folder, text)])
    assert "extends-cycle" in [d.code for d in diags]


def test_duplicate_task_names_and_import_clash(folder):
    diags = check([write(folder, BASE + BASE)])
    assert [d.code for d in diags] == ["duplicate-name"] and diags[0].line == 9
    write(folder, BASE, "other.prompt")
    diags = check([write(folder, 'import "other.prompt"\n' + BASE, "clash.prompt")])
    assert "duplicate-name" in [d.code for d in diags]


def test_unknown_parent_suggests(folder):
    diags = check([write(folder, BASE + "task c extends bse { }\n")])
    diag, = diags
    assert diag.code == "unknown-task" and "did you mean `base`" in diag.hint


def test_several_tasks_need_a_name(folder):
    path = write(folder, BASE + "task c extends base { }\n")
    with pytest.raises(TaskError) as err:
        load(path)
    assert err.value.diagnostics[0].code == "choose-task"
    assert load(path, task="c")["name"] == "c"


def test_sweep_grid_and_expansion(folder):
    text = BASE + "sweep base {\n  data.sample_seed: [13, 21]\n  train.learning_rate: 1e-5, 2\n}\n"
    ir = load(write(folder, text))
    assert ir["sweep"] == {"data.sample_seed": [13, 21], "train.learning_rate": [1e-05, 2.0]}
    runs = expand_sweep(ir)
    assert [(r["data"]["sample_seed"], r["train"]["learning_rate"]) for _, _, r in runs] == \
        [(13, 1e-05), (13, 2.0), (21, 1e-05), (21, 2.0)]
    assert all(r["sweep"] is None for _, _, r in runs)
    assert runs[1][0] == {"data.sample_seed": 13, "train.learning_rate": 2.0}
    assert [name for _, name, _ in runs][:2] == ["sample_seed=13,learning_rate=1e-05",
                                                 "sample_seed=13,learning_rate=2.0"]
    assert ir["sweep"] is not None            # the task itself is not changed
    plain = load(write(folder, BASE, "plain.prompt"))
    assert expand_sweep(plain) == [({}, "", plain)]


def test_sweep_errors_are_located(folder):
    text = BASE + 'sweep base {\n  train.learnig_rate: [1]\n  train.epochs: [1, "x"]\n}\n'
    diags = check([write(folder, text)])
    assert [(d.code, d.line) for d in diags] == [("unknown-field", 10), ("invalid-value", 11)]
    assert "did you mean `learning_rate`" in diags[0].hint
    diags = check([write(folder, BASE + "sweep nobody { train.seed: [1] }\n", "n.prompt")])
    assert [d.code for d in diags] == ["unknown-task"]


def test_method_options_can_be_swept(folder):
    text = BASE.replace("method finetune { }", "method lora { r: 8 }") + \
        "sweep base { method.lora.r: [4, 8] }\n"
    runs = expand_sweep(load(write(folder, text)))
    assert [r["methods"][0]["options"]["r"] for _, _, r in runs] == [4, 8]


def test_overrides_parse_like_the_language_and_revalidate(folder, monkeypatch):
    path = write(folder, BASE)
    ir = load(path, overrides={"train.epochs": "5", "train.device": "cpu", "data.shots": "1"})
    assert ir["train"]["epochs"] == 5 and ir["train"]["device"] == "cpu" and ir["data"]["shots"] == 1
    with pytest.raises(TaskError) as err:
        load(path, overrides={"train.epochs": '"five"'})
    assert err.value.diagnostics[0].code == "invalid-value"
    with pytest.raises(TaskError) as err:
        load(path, overrides={"train.epoch": "5"})
    assert "did you mean `epochs`" in err.value.diagnostics[0].hint
    monkeypatch.chdir(folder)          # command-line paths are relative to the working folder
    ir = load(path, overrides={"model": '"./mlm"'})
    assert ir["model"] == str(folder / "mlm")


def test_templates_block_for_ensembles(folder):
    text = BASE.replace('template: "{sentence} It was [MASK]."',
                        'templates {\n    a: "{sentence} It was [MASK]."\n    b: "[MASK]: {sentence}"\n  }')
    ir = load(write(folder, text))
    assert list(ir["templates"]) == ["a", "b"] and ir["template"] == ir["templates"]["a"]


def test_generation_task_gets_generate_defaults_even_on_a_model_that_cannot_generate(folder):
    (folder / "g.tsv").write_text("document\tsummary\nlong text\tshort\n")
    text = ('task g {\n  model: "./mlm"\n  data { train: "g.tsv" }\n'
            '  template: "summarize: {document} [MASK]"\n  target: "{summary}"\n'
            '  method finetune { }\n  generate { beams: 4 }\n}\n')
    analysis = analyse(write(folder, text))
    assert [(d.code, d.line, d.column) for d in analysis.errors] == [("generation-model", 5, 3)]
    ir = analysis.tasks["g"]                  # the IR is still built
    assert ir["verbalizer"] is None and ir["target"]["pieces"][0]["name"] == "summary"
    assert ir["generate"]["beams"] == 4 and ir["generate"]["max_new_tokens"] == 32


def test_import_problems_are_located(folder):
    write(folder, "task broken { x: 1,, }\n", "broken.prompt")
    diags = check([write(folder, 'import "broken.prompt"\nimport "nope.prompt"\n' + BASE)])
    assert [(Path(d.file).name, d.code) for d in diags] == [
        ("broken.prompt", "double-comma"), ("t.prompt", "missing-file")]
    diags = check([write(folder, BASE + 'import "broken.prompt"\n', "late.prompt")])
    assert "import-order" in [d.code for d in diags]

"""`sweep t { template: ["…", "…"] }`: each swept template parsed and checked as the task's own
(errors at its item), one run IR per template named `template=N`, fmt keeping it, and the points
of a template-suffix sweep trained together matching them trained one after another."""
import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import tiny
from promptdsl.api import check, load
from promptdsl.cli import main
from promptdsl.ir import expand_sweep
from promptdsl.syntax.fmt import format_text

TASK = '''task t {
  model: "./lm"
  data { train: "d.tsv", test: "d.tsv" }
  template: "{sentence} <soft*2> It was [MASK]"
  verbalizer { "0": "bad"  "1": "good" }
  method prompt_tuning { length: 0 }
}
'''


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "d.tsv").write_text("sentence\tlabel\ngood film\t1\nbad film\t0\n")
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    return tmp_path


def write(folder, text, name="t.prompt"):
    (folder / name).write_text(text)
    return str(folder / name)


def sweep_of(*templates, task=TASK, extra=""):
    items = ",\n    ".join(json.dumps(t) for t in templates)
    return task + f"sweep t {{{extra}\n  template: [\n    {items}\n  ]\n}}\n"


def located(diags):
    return [(d.code, d.line, d.column) for d in diags]


def test_each_bad_swept_template_is_reported_at_its_item(folder):
    text = sweep_of("{sentence} <soft*2> It was [MASK]",      # line 10: fine
                    "{sentence <soft*2> [MASK]",              # 11: malformed field
                    "{sentence} [MASK] and [MASK]",           # 12: two masks (so not last)
                    "{review} <soft*2> It was [MASK]",        # 13: no such column
                    "{sentence} [MASK] was it",               # 14: [MASK] not last (causal)
                    "{sentence} <soft:a*2> <soft:a*3> [MASK]")  # 15: one name, two sizes
    diags = check([write(folder, text)])
    assert sorted(located(diags)) == [("bad-field", 11, 6), ("mask-placement", 12, 28),
                                      ("mask-placement", 14, 17), ("several-masks", 12, 28), ("soft-mismatch", 15, 28),
                                      ("unknown-column", 13, 6)]
    by_code = {d.code: d for d in diags}
    assert "{review}" in by_code["unknown-column"].message
    assert "causal" in by_code["mask-placement"].message


def test_the_verbalizers_mask_and_the_task_level_checks(folder):
    named = TASK.replace("It was [MASK]", "It was [MASK:w]").replace(
        '"1": "good" }', '"1": "good"  mask: w }')
    diags = check([write(folder, sweep_of("{sentence} [MASK:w]", "{sentence} [MASK]",
                                          task=named))])
    assert located(diags) == [("unknown-mask", 11, 5)]
    assert "`[MASK:w]`" in diags[0].message
    # the task's own problems are reported once, at the task, not at every item
    broken = TASK.replace('"0": "bad"', '"9": "bad"')
    diags = check([write(folder, sweep_of("{sentence} A [MASK]", "{sentence} B [MASK]",
                                          task=broken), "b.prompt")])
    assert [d.code for d in diags] == ["label-mismatch"] and diags[0].line == 5


def test_a_task_with_named_templates_cannot_sweep_template(folder):
    pet = TASK.replace('template: "{sentence} <soft*2> It was [MASK]"',
                       'templates { a: "{sentence} It was [MASK]" }')
    diags = check([write(folder, sweep_of("{sentence} [MASK]", task=pet))])
    assert located(diags) == [("template-and-templates", 9, 3)]


def test_a_bad_swept_template_stops_training(folder):
    path = write(folder, sweep_of("{sentence} [MASK]", "{sentence} [MASK] [MASK]"))
    result = CliRunner().invoke(main, ["train", path, "--out", str(folder / "runs")])
    assert result.exit_code != 0 and f"{path}:11:" in result.output
    assert not (folder / "runs").exists()


def test_each_run_gets_its_template_and_a_numbered_name(folder):
    first, second = "{sentence} <soft*2> It was [MASK]", "{sentence} <soft*2> All in all, [MASK]"
    ir = load(write(folder, sweep_of(first, second, extra="\n  train.seed: [1, 2]")))
    assert [t["text"] for t in ir["sweep"]["template"]] == [first, second]
    assert ir["sweep"]["template"][1]["pieces"][-2:] == [
        {"type": "text", "text": " All in all, "}, {"type": "mask", "name": None}]
    runs = expand_sweep(ir)
    assert [name for _, name, _ in runs] == ["seed=1,template=1", "seed=1,template=2",
                                             "seed=2,template=1", "seed=2,template=2"]
    assert [(run["train"]["seed"], run["template"]["text"]) for _, _, run in runs] == \
        [(1, first), (1, second), (2, first), (2, second)]
    assert runs[1][0] == {"train.seed": 1, "template": ir["sweep"]["template"][1]}
    assert ir["template"]["text"] == first and ir["sweep"] is not None    # the task unchanged


def test_fmt_keeps_a_template_sweep(folder):
    text = TASK + 'sweep t {\n template :["{sentence} [MASK]",  "{sentence} so [MASK]"]}\n'
    path = write(folder, text)
    before = load(path)
    formatted = format_text(text, path)
    assert formatted.diagnostics == []
    assert '  template: ["{sentence} [MASK]", "{sentence} so [MASK]"]' in formatted.text
    assert format_text(formatted.text).text == formatted.text
    assert load(write(folder, formatted.text)) == before


PROMPT = """task pt {{
  model: "{model}"
  data {{ train: "data.tsv", test: "data.tsv", label: label }}
  template: "{{sentence}} <soft*4> It was [MASK]"
  verbalizer {{ "0": "terrible"  "1": "great" }}
  method prompt_tuning {{ length: 0 }}
  train {{ device: cpu, epochs: 2, batch_size: 4, learning_rate: 0.05 }}
}}
sweep pt {{
  template: ["{{sentence}} <soft*4> It was [MASK]", "{{sentence}} <soft*4> All in all, [MASK]"]
}}
"""


def _soft(run):
    return load_file(str(run / "checkpoint" / "trainable.safetensors"))["soft_prompt.weight"]


def test_template_suffixes_train_together_as_they_train_alone(tmp_path, tiny_model_dir):
    tiny.write_tsv(tmp_path, [(s, str(i % 2)) for i, s in enumerate(tiny.corpus()[:16])])
    path = tmp_path / "sweep.prompt"
    path.write_text(PROMPT.format(model=tiny_model_dir("llama")), encoding="utf-8")
    outputs = {}
    for label, extra in (("together", []), ("alone", ["--sequential"])):
        result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / label),
                                           *extra])
        assert result.exit_code == 0, result.output
        outputs[label] = json.loads((tmp_path / label / "sweep.json").read_text())
    assert outputs["together"]["together"] is not None, outputs["together"]["sequential_because"]
    assert outputs["alone"]["together"] is None
    names = [run["run_dir"].split("/")[-1] for run in outputs["together"]["runs"]]
    assert names == ["template=1", "template=2"]
    texts = [json.loads((tmp_path / "together" / n / "task.json").read_text())["template"]["text"]
             for n in names]
    assert texts == ["{sentence} <soft*4> It was [MASK]", "{sentence} <soft*4> All in all, [MASK]"]
    trained = [_soft(tmp_path / "together" / n) for n in names]
    for name, tensor in zip(names, trained):
        assert torch.allclose(tensor, _soft(tmp_path / "alone" / name), atol=1e-4), name
    assert not torch.allclose(trained[0], trained[1], atol=1e-3)   # the templates reached the runs

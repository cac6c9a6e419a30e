"""A sweep's points trained together on one backbone (promptdsl.train.batched_sweep) against the
same points one after another (`--sequential`)."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import tiny
from promptdsl.cli import main
from promptdsl.ir.sweep import expand_sweep
from promptdsl.train.batched_sweep import sharing_reason

PROMPT = """
task pt {{
  model: "{model}"
  data {{
    train: "data.tsv"
    test: "data.tsv"
    label: label
  }}
  template: "{{sentence}} <soft*3> It was [MASK]"
  verbalizer {{
    "0": "terrible"
    "1": "great"
  }}
  method {method} {{ {options} }}
  train {{
    device: cpu
    epochs: 2
    batch_size: 4
    learning_rate: {lr}
  }}
}}

sweep pt {{
  {grid}
}}
"""


def _write(tmp_path, model_dir, *, method="prompt_tuning", options="length: 0", lr="0.05",
           grid="train.seed: [1, 2, 3]"):
    rows = [(s, str(i % 2)) for i, s in enumerate(tiny.corpus()[:16])]
    tiny.write_tsv(tmp_path, rows)
    path = tmp_path / "sweep.prompt"
    path.write_text(PROMPT.format(model=model_dir, method=method, options=options, lr=lr,
                                  grid=grid), encoding="utf-8")
    return path


def _train(path, out, *extra):
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(out), *extra])
    return result


def _soft(run):
    return load_file(str(run / "checkpoint" / "trainable.safetensors"))["soft_prompt.weight"]


def test_points_trained_together_match_the_points_trained_one_after_another(
        tmp_path, tiny_model_dir):
    path = _write(tmp_path, tiny_model_dir("llama"), grid="train.seed: [1, 2]\n  "
                  "train.learning_rate: [0.05, 0.01]")
    together = _train(path, tmp_path / "together")
    assert together.exit_code == 0, together.output
    assert "train together on one backbone" in together.output
    alone = _train(path, tmp_path / "alone", "--sequential")
    assert alone.exit_code == 0, alone.output
    sweep = json.loads((tmp_path / "together" / "sweep.json").read_text())
    assert sweep["together"]["joined_reads"] > 0 and sweep["sequential_because"] is None
    assert json.loads((tmp_path / "alone" / "sweep.json").read_text())["together"] is None
    names = [run["run_dir"].split("/")[-1] for run in sweep["runs"]]
    assert len(names) == 4
    tensors = [_soft(tmp_path / "together" / n) for n in names]
    for name, trained in zip(names, tensors):
        assert torch.allclose(trained, _soft(tmp_path / "alone" / name), atol=1e-4), name
        summary = json.loads((tmp_path / "together" / name / "summary.json").read_text())
        assert summary["memory"]["prefix_cache"]["reused_tokens"] > 0
    # the points really differ (seeds and learning rates reached their own runs)
    assert not torch.allclose(tensors[0], tensors[1], atol=1e-3)
    assert not torch.allclose(tensors[0], tensors[2], atol=1e-3)
    accuracies = [r["metrics"]["accuracy"] for r in sweep["runs"]]
    alone_sweep = json.loads((tmp_path / "alone" / "sweep.json").read_text())
    assert accuracies == [r["metrics"]["accuracy"] for r in alone_sweep["runs"]]


def _runs(tmp_path, model_dir, **kwargs):
    import promptdsl
    path = _write(tmp_path, model_dir, **kwargs)
    return expand_sweep(promptdsl.load(str(path), task="pt"))


@pytest.mark.parametrize("method,options,words", [
    ("lora", "", "backbone"),
    ("prefix", "length: 2", "prefix"),
])
def test_points_that_touch_the_backbone_run_one_after_another(tmp_path, tiny_model_dir,
                                                              method, options, words):
    runs = _runs(tmp_path, tiny_model_dir("llama"), method=method, options=options)
    reason = sharing_reason(runs)
    assert reason is not None and "prefix cache is off" in reason and words in reason


def test_masked_lm_and_single_points_run_one_after_another(tmp_path, tiny_model_dir):
    reason = sharing_reason(_runs(tmp_path, tiny_model_dir("bert")))
    assert reason is not None and "masked LM" in reason
    assert sharing_reason(_runs(tmp_path, tiny_model_dir("llama"),
                                grid="train.seed: [1]")) == "the sweep has one point"
    assert sharing_reason(_runs(tmp_path, tiny_model_dir("llama"))) is None


def test_dropout_keeps_points_apart(tmp_path, tiny_model_dir):
    reason = sharing_reason(_runs(tmp_path, tiny_model_dir("gpt2")))
    assert reason is not None and "dropout" in reason


def test_a_failing_point_stops_the_others_and_reports_its_own_error(tmp_path, tiny_model_dir):
    path = _write(tmp_path, tiny_model_dir("llama"),
                  grid='data.validation: ["data.tsv", "bad.tsv"]')
    (tmp_path / "bad.tsv").write_text("sentence\tlabel\nfine\t0\nbroken row\n", encoding="utf-8")
    result = _train(path, tmp_path / "out")
    assert result.exit_code != 0
    assert "bad.tsv" in result.output, result.output
    assert "Traceback" not in result.output
    from promptdsl.train import interrupt
    assert interrupt.requested() is None       # the stop the sweep asked for is withdrawn


def test_points_that_read_before_training_do_not_wait_for_each_other(tmp_path, tiny_model_dir):
    """Calibration reads the model in the prepare phase, while other points may already wait to
    start training together (SharedReads.gather): nobody waits for anybody forever, and the
    points still match one after another."""
    model_dir = tiny_model_dir("llama")
    path = _write(tmp_path, model_dir, grid="train.seed: [1, 2, 3]")
    text = path.read_text().replace('"1": "great"\n  }', '"1": "great"\n    calibrate: contextual\n  }')
    assert "calibrate: contextual" in text
    path.write_text(text)
    together = _train(path, tmp_path / "together")
    assert together.exit_code == 0, together.output
    alone = _train(path, tmp_path / "alone", "--sequential")
    assert alone.exit_code == 0, alone.output
    for name in ("seed=1", "seed=2", "seed=3"):
        assert torch.allclose(_soft(tmp_path / "together" / name),
                              _soft(tmp_path / "alone" / name), atol=1e-4), name

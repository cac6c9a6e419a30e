"""No silent failures in training: a NaN/inf loss stops the run with a clear error (or, with
`train.on_nonfinite: skip`, drops that update with a warning); NaN scores are never a metric."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import tiny
from promptdsl.cli import main
from promptdsl.train.build import build_model
from promptdsl.train.splits import EncodedSplit
from promptdsl.train.trainer import NonFiniteLoss, Trainer, result_from_logits

ROWS = [(f"{w} movie", str(i % 2)) for i, w in enumerate(tiny.WORDS[:16])]


def loop(make_task, model_dir, tmp_path, **train):
    data = tiny.write_tsv(tmp_path, ROWS, name="train.tsv")
    task = make_task(model_dir, train=data, test=data, methods=[
        {"name": "prompt_tuning", "options": {"length": 2}}],
        train_options={"batch_size": 4, "epochs": 1, "learning_rate": 0.01, **train})
    model = build_model(task)
    echoed = []
    trainer = Trainer(model, task, torch.device("cpu"), progress=False, echo=echoed.append)
    from promptdsl.data import read_table
    split = EncodedSplit("train", model, read_table(str(data)))
    return trainer, split, echoed


def nan_at(batch_number):
    calls = []

    def loss(model, batch, indices):
        calls.append(1)
        value = model(batch)["loss"]
        return value * float("nan") if len(calls) == batch_number else value
    return loss


def test_a_nan_loss_stops_training_with_the_step(make_task, tiny_model_dir, tmp_path):
    trainer, split, _ = loop(make_task, tiny_model_dir("bert"), tmp_path)
    with pytest.raises(NonFiniteLoss, match=r"diverged at step 3 \(epoch 1, batch 3\).*nan"):
        trainer.train(split, loss=nan_at(3))


def test_skip_drops_the_update_and_warns(make_task, tiny_model_dir, tmp_path):
    trainer, split, echoed = loop(make_task, tiny_model_dir("bert"), tmp_path,
                                  on_nonfinite="skip")
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()
              if p.requires_grad}
    result = trainer.train(split, loss=nan_at(2))
    assert result.steps == 4
    assert any("step 2" in line and "skipped" in line for line in echoed)
    after = dict(trainer.model.named_parameters())
    assert all(torch.isfinite(after[n]).all() for n in before)
    assert any(not torch.equal(before[n], after[n]) for n in before)   # the other steps train


def test_nan_scores_are_an_error_not_a_metric():
    logits = torch.tensor([[0.1, 0.2], [float("nan"), 0.0]])
    with pytest.raises(NonFiniteLoss, match="NaN label scores for 1 of 2 rows"):
        result_from_logits(logits, ["0", "1"], ["0", "1"], "accuracy")


def finetune_task(tmp_path, model_dir, train: str):
    """A fine-tuning task file over ROWS with the `train { … }` fields `train`."""
    data = tiny.write_tsv(tmp_path, ROWS, name="train.tsv")
    prompt = tmp_path / "t.prompt"
    prompt.write_text(f'''task t {{
  model: "{model_dir}"
  data {{ train: "{data}"  test: "{data}" }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{ "0": "terrible"  "1": "great" }}
  method finetune {{ }}
  train {{ {train} }}
}}''', encoding="utf-8")
    return prompt


def test_a_diverging_run_exits_2_without_a_summary(tmp_path, tiny_model_dir):
    prompt = finetune_task(tmp_path, tiny_model_dir("bert"), "epochs: 2  batch_size: 4  "
                           "learning_rate: 1e30  max_grad_norm: null  device: cpu")
    result = CliRunner().invoke(main, ["train", str(prompt), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "diverged" in result.output or "NaN" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert not (tmp_path / "run" / "summary.json").exists()


def test_a_learning_rate_past_float32_is_a_located_error(tmp_path, tiny_model_dir):
    """AdamW's first step divides the rate by (1 - beta1): above ~3.4e37 it overflowed float32
    with a traceback (`value cannot be converted to type float`); now check refuses it."""
    prompt = finetune_task(tmp_path, tiny_model_dir("bert"), "learning_rate: 1e38  device: cpu")
    result = CliRunner().invoke(main, ["train", str(prompt), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    assert "t.prompt:7:" in result.output and "`train.learning_rate` must be at most" in \
        result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()

"""The runtime layer: one way to run a model over rows, the learning-rate schedules, per-split
row limits, what a run tells the user, and run files written alike."""
from __future__ import annotations

import math
import os
import stat

import pytest
import torch

import tiny
from promptdsl.data import Table
from promptdsl.data.sampling import take_rows
from promptdsl.model.compile import compile_task
from promptdsl.runtime import label_scores, make_schedule, map_rows
from promptdsl.train.runner import train_task

QUIET = {"progress": False, "echo": lambda _: None}


def test_map_rows_keeps_row_order_and_restores_the_mode_even_on_errors(tiny_model_dir):
    model = compile_task(tiny.make_task(tiny_model_dir("gpt2"), "{sentence} It was [MASK]"))
    texts = ["a", "a much longer sentence than the others here", "mid length one", "b c"]
    lengths = map_rows(model, texts, lambda batch: batch["attention_mask"].sum(-1),
                       batch_size=2)
    alone = [int(map_rows(model, [t], lambda b: b["attention_mask"].sum(-1))[0]) for t in texts]
    assert lengths.tolist() == alone                 # bucketed by length, returned in row order
    assert torch.is_grad_enabled()                   # the caller's grad mode is untouched
    model.train()

    def fail(batch):
        assert not model.training and not torch.is_grad_enabled()
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        map_rows(model, texts, fail)
    assert model.training
    listed = map_rows(model, texts, lambda batch: [int(x) for x in batch["mask_pos"]],
                      batch_size=3)
    assert isinstance(listed, list) and len(listed) == 4


def test_label_scores_equal_one_batch_at_a_time(tiny_model_dir):
    model = compile_task(tiny.make_task(tiny_model_dir("bert")))
    texts = [t for t, _ in tiny.SST2_ROWS]
    together = label_scores(model, texts, batch_size=4)
    one = torch.cat([label_scores(model, [t], batch_size=1) for t in texts])
    torch.testing.assert_close(together, one, atol=1e-5, rtol=1e-4)
    assert model.predict(texts) == [model.labels[i] for i in together.argmax(-1).tolist()]


@pytest.mark.parametrize("kind", ["linear", "constant", "cosine"])
def test_schedules_warm_up_then_follow_their_shape(kind):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    schedule = make_schedule(optimizer, {"warmup_ratio": 0.2, "schedule": kind}, 10)
    rates = []
    for _ in range(10):
        rates.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx(1 / 3) and rates[1] == pytest.approx(2 / 3)
    assert rates[2] == pytest.approx(1.0)
    expected = {"linear": 1 - 5 / 8, "constant": 1.0,
                "cosine": 0.5 * (1 + math.cos(math.pi * 5 / 8))}[kind]
    assert rates[7] == pytest.approx(expected)


def test_row_limits_take_the_first_rows_or_a_seeded_sample():
    table = Table("x.tsv", ["sentence"], [{"sentence": str(i)} for i in range(20)],
                  list(range(2, 22)))
    assert [r["sentence"] for r in take_rows(table, 3, "first", 13).rows] == ["0", "1", "2"]
    sample = take_rows(table, 5, "sample", 13)
    assert len(sample) == 5 and sample.lines == sorted(sample.lines)
    assert sample.rows == take_rows(table, 5, "sample", 13).rows
    assert sample.rows != take_rows(table, 5, "sample", 21).rows
    assert take_rows(table, None, "sample", 13) is table
    assert take_rows(table, 50, "first", 13) is table


def test_a_run_evaluates_only_test_rows_and_says_validation_metrics_each_epoch(
        tiny_model_dir, tmp_path):
    rows = tiny.SST2_ROWS
    train = tiny.write_tsv(tmp_path, rows, name="train.tsv")
    test = tiny.write_tsv(tmp_path, rows, name="test.tsv")
    task = tiny.make_task(tiny_model_dir("gpt2"), "{sentence} It was [MASK]", train=train,
                          validation=test, test=test, methods=["prompt_tuning"],
                          train_options={"epochs": 2, "batch_size": 4, "learning_rate": 1e-2,
                                         "schedule": "constant"})
    task["data"].update({"test_rows": 3, "take": "first"})
    lines = []
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lines.append)
    assert summary["eval"]["examples"] == 3
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2 and all("validation accuracy" in line for line in epochs)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    modes = {stat.S_IMODE(os.stat(p).st_mode) for p in files}
    assert len(modes) == 1, f"run files differ in permissions: {modes}"
    assert any(p.suffix == ".safetensors" for p in files)


def test_a_merged_lora_over_trained_weights_saves_the_weights_unfolded(tiny_model_dir, tmp_path):
    from promptdsl.runtime import load_checkpoint, save_checkpoint
    task = tiny.make_task(tiny_model_dir("gpt2"), "{sentence} It was [MASK]",
                          methods=["finetune", {"name": "lora", "options": {"merge": True}}])
    model = compile_task(task)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)       # an update that changes the scores
    texts = [t for t, _ in tiny.SST2_ROWS[:4]]
    before = model.scores(texts)                # evaluation: updates folded into the weights
    save_checkpoint(model, tmp_path / "ckpt")
    torch.testing.assert_close(load_checkpoint(tmp_path / "ckpt").scores(texts), before,
                               atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.scores(texts), before, atol=1e-5, rtol=1e-4)

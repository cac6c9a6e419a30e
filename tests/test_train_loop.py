"""The training loop on tiny random models: it learns, it repeats with a seed, it gives optimizer
state only to trainable parameters, and a checkpoint reproduces its predictions."""
from __future__ import annotations

import json
import random

import pytest
import torch

import promptdsl
import tiny
from promptdsl.train.build import build_model
from promptdsl.train.checkpoint import load_checkpoint
from promptdsl.train.runner import train_task
from promptdsl.train.trainer import make_optimizer


FILLER = "it was this is the a movie film really very quite and of".split()


def keyword_rows(n: int, seed: int) -> list:
    """Sentences whose label is which of "great" / "terrible" they contain."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = rng.sample(FILLER, 4) + [["terrible", "great"][label]]
        rng.shuffle(words)
        rows.append((" ".join(words), str(label)))
    return rows


@pytest.fixture
def keyword_data(tmp_path, write_tsv):
    train = write_tsv(keyword_rows(64, 1), name="train.tsv")
    test = write_tsv(keyword_rows(40, 2), name="test.tsv")
    return train, test


def keyword_task(make_task, model_dir, train, test, template="{sentence} It was [MASK] .",
                 **train_options):
    options = {"epochs": 8, "batch_size": 8, "learning_rate": 3e-3, "warmup_ratio": 0.0,
               "seed": 7, "device": "cpu", **train_options}
    # label words the keywords are not, so the model must learn the mapping
    return make_task(model_dir, template, {"0": "bad", "1": "good"},
                     train=train, test=test, methods=["finetune"], train_options=options)


def test_finetune_learns_a_keyword_task(tmp_path, tiny_model_dir, make_task, keyword_data):
    task = keyword_task(make_task, tiny_model_dir("bert"), *keyword_data, epochs=5,
                        learning_rate=5e-3)
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    assert summary["test"]["accuracy"] >= 0.9, summary["test"]
    assert summary["train"]["steps"] == 5 * 8
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 5 + 1  # one per epoch (train loss: no validation split) + the test
    losses = [json.loads(line)["train_loss"] for line in lines[:-1]]
    assert losses[-1] < losses[0]


def test_same_seed_same_metrics(tmp_path, tiny_model_dir, make_task, keyword_data):
    task = keyword_task(make_task, tiny_model_dir("gpt2"), *keyword_data,
                        template="{sentence} It was [MASK]", epochs=2)
    first = train_task(task, out=tmp_path / "a", progress=False, echo=lambda _: None)
    second = train_task(task, out=tmp_path / "b", progress=False, echo=lambda _: None)
    assert first["test"] == second["test"]
    assert (tmp_path / "a" / "predictions.tsv").read_text() == \
        (tmp_path / "b" / "predictions.tsv").read_text()
    task["train"]["seed"] = 8
    third = train_task(task, out=tmp_path / "c", progress=False, echo=lambda _: None)
    assert (tmp_path / "c" / "predictions.tsv").read_text() != \
        (tmp_path / "a" / "predictions.tsv").read_text()
    assert third["parameters"] == first["parameters"]


def test_only_trainable_parameters_get_optimizer_state(tiny_model_dir, make_task):
    task = make_task(tiny_model_dir("bert"), "<soft*2> {sentence} It was [MASK] .",
                     methods=["zero_shot"])
    task["methods"] = []  # compile's default: backbone frozen, soft tokens trainable
    model = build_model(task)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert 0 < len(trainable) < len(list(model.parameters()))
    optimizer = make_optimizer(model, task["train"], torch.device("cpu"))
    held = [p for group in optimizer.param_groups for p in group["params"]]
    assert {id(p) for p in held} == {id(p) for p in trainable}
    batch = model.collate(model.encode([{"sentence": "great", "label": "1"}]))
    model(batch)["loss"].backward()
    optimizer.step()
    assert set(optimizer.state) == set(held)


def test_checkpoint_reproduces_predictions(tmp_path, tiny_model_dir, make_task, keyword_data):
    task = keyword_task(make_task, tiny_model_dir("t5"), *keyword_data,
                        template="<soft> {sentence} It was [MASK] .", epochs=1)
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    model = load_checkpoint(tmp_path / "run")
    from promptdsl.train.inference import predict_table
    from promptdsl.data import read_table
    result = predict_table(model, torch.device("cpu"), read_table(keyword_data[1]),
                           progress=False)
    assert result.metrics["accuracy"] == summary["test"]["accuracy"]
    saved = (tmp_path / "run" / "predictions.tsv").read_text().splitlines()[1:]
    assert [line.split("\t")[2] for line in saved] == result.predictions


def test_zero_shot_trains_nothing(tmp_path, tiny_model_dir, make_task, sst2_tsv):
    task = make_task(tiny_model_dir("roberta"), "<soft> {sentence} It was [MASK] .",
                     test=sst2_tsv, methods=["zero_shot"], train_options={"device": "cpu"})
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    assert summary["train"] is None and summary["parameters"]["trainable"] == 0
    # nothing trained: the run's accuracy is the freshly compiled model's on the same rows
    predicted = promptdsl.compile(task).predict([text for text, _ in tiny.SST2_ROWS])
    gold = [label for _, label in tiny.SST2_ROWS]
    assert summary["test"]["accuracy"] == sum(map(str.__eq__, predicted, gold)) / len(gold)
    for name in ("task.json", "metrics.jsonl", "summary.json", "predictions.tsv",
                 "checkpoint/trainable.safetensors", "checkpoint/task.json"):
        assert (tmp_path / "run" / name).is_file(), name


def test_early_stopping_restores_the_best_evaluation(tmp_path, tiny_model_dir, make_task,
                                                      keyword_data):
    train, test = keyword_data
    task = keyword_task(make_task, tiny_model_dir("bert"), train, test, epochs=20,
                        eval_every=8, early_stopping=3)
    task["data"]["validation"] = task["data"]["test"]  # so the test score shows the restore
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    records = [json.loads(line) for line in
               (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if r["split"] == "validation"]
    assert summary["train"]["stopped_early"] and summary["train"]["steps"] < 20 * 8
    assert all(r["step"] % 8 == 0 for r in evaluations)
    best = [r for r in evaluations if r["best"]][-1]
    assert best["accuracy"] == max(r["accuracy"] for r in evaluations)
    assert summary["train"]["best_step"] == best["step"] < evaluations[-1]["step"]
    # the final evaluation (same rows) sees the restored best tensors, not the last ones
    assert summary["test"]["loss"] == pytest.approx(best["loss"], rel=1e-5)
    assert summary["test"]["loss"] != pytest.approx(evaluations[-1]["loss"], rel=1e-5)
    assert summary["validation"] == {k: v for k, v in best.items() if k in summary["validation"]}


def test_nothing_trainable_is_a_clean_error(tiny_model_dir, make_task):
    from promptdsl.errors import ModelError
    model = build_model(make_task(tiny_model_dir("bert"), methods=["zero_shot"]))
    with pytest.raises(ModelError, match="nothing to train"):
        make_optimizer(model, model.task["train"], torch.device("cpu"))

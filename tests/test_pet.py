"""method pet: one model per template, the ensemble averages their logits; distillation and
iPET generations; clear errors for impossible set-ups."""
from __future__ import annotations

import csv

import pytest
import torch

import tiny
from promptdsl.data import Table
from promptdsl.errors import DataError, ModelError
from promptdsl.runtime import Ensemble, load_checkpoint
from promptdsl.train.inference import evaluate_checkpoint
from promptdsl.train.runner import train_task
from promptdsl_plugins.methods._pseudo import pseudo_labelled

POS = [f"It was great . {w}" for w in tiny.WORDS[:12]]
NEG = [f"How far is it ? {w}" for w in tiny.WORDS[:12]]
ROWS = [(t, "1") for t in POS] + [(t, "0") for t in NEG]
SECOND = tiny.PET_SECOND_TEMPLATE


QUIET = {"progress": False, "echo": lambda _: None}


@pytest.fixture
def pet_task(tiny_model_dir, tmp_path):
    def make(**options):
        return tiny.pet_task(tiny_model_dir("gpt2"), tmp_path, ROWS, options)
    return make


def read_rows(path) -> list:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def read_predictions(path):
    return torch.tensor([[float(r["p(0)"]), float(r["p(1)"])] for r in read_rows(path)])


def test_pet_ensemble_averages_the_members_logits(pet_task, tmp_path):
    task = pet_task()
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    run = tmp_path / "run"
    assert set(summary["test"]["members"]) == {"a", "b"}
    texts = [t for t, _ in ROWS[1::2]]
    member_logits = [load_checkpoint(run / "checkpoint" / "members" / n).scores(texts)
                     for n in ("a", "b")]
    assert not torch.allclose(member_logits[0], member_logits[1])   # two different templates
    expected = torch.stack(member_logits).mean(0).softmax(-1)
    torch.testing.assert_close(read_predictions(run / "predictions.tsv"), expected,
                               atol=1e-4, rtol=1e-4)


def test_pet_accuracy_weighting_weights_members_by_their_train_accuracy_before_training(
        pet_task, tmp_path):
    import json
    task = pet_task(weighting="accuracy")
    train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    weights = torch.tensor([r["train_accuracy_before"] for r in records if "pet_member" in r])
    assert len(weights) == 2 and (weights > 0).all()
    texts = [t for t, _ in ROWS[1::2]]
    member_logits = torch.stack([load_checkpoint(run / "checkpoint" / "members" / n).scores(texts)
                                 for n in ("a", "b")])
    expected = (member_logits * (weights / weights.sum())[:, None, None]).sum(0).softmax(-1)
    torch.testing.assert_close(read_predictions(run / "predictions.tsv"), expected,
                               atol=1e-4, rtol=1e-4)


def test_pet_distills_into_one_model_over_ipet_generations(pet_task, tmp_path):
    task = pet_task(distill=True, generations=2, templates=["b", "a"])
    messages = []
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=messages.append)
    run = tmp_path / "run"
    # generation 1's members beside the run; the last generation's form the ensemble
    assert {p.name for p in (run / "members").iterdir()} == {"a.g1", "b.g1"}
    assert {p.name for p in (run / "ensemble" / "members").iterdir()} == {"a", "b"}
    # generation 2 trains on the 12 train rows plus 12 × 5 pseudo-labelled rows at most
    assert any("generation 2: training on 36 rows" in m for m in messages)  # 24 unlabelled
    written = read_rows(run / "predictions.tsv")
    assert summary["test"]["accuracy"] == \
        sum(r["gold"] == r["prediction"] for r in written) / len(written)
    assert set(summary["test"]["members"]) == {"a", "b"}
    student = load_checkpoint(run / "checkpoint")
    assert student.task["template"]["text"] == SECOND        # the first named template
    texts = [t for t, _ in ROWS[1::2]]
    torch.testing.assert_close(read_predictions(run / "predictions.tsv"),
                               student.scores(texts).softmax(-1), atol=1e-4, rtol=1e-4)


def test_pseudo_labels_take_the_most_confident_rows_per_label():
    train = Table("t.tsv", ["sentence", "label"], [{"sentence": "x", "label": "a"}], [2])
    unlabeled = Table("u.tsv", ["sentence"], [{"sentence": s} for s in "pqrst"], [2, 3, 4, 5, 6])
    logits = torch.tensor([[3.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 5.0], [0.2, 0.0]])
    out = pseudo_labelled(train, unlabeled, logits, ["a", "b"], "label", size=2)
    assert [(r["sentence"], r["label"]) for r in out.rows] == [("x", "a"), ("p", "a"),
                                                                ("s", "b")]
    assert out.lines == [2, 2, 5]


def test_pet_errors(pet_task, tmp_path):
    task = pet_task(templates=["a", "nope"])
    with pytest.raises(ModelError, match="unknown template"):
        train_task(task, out=tmp_path / "r1", progress=False, echo=lambda _: None)
    task = pet_task()
    task["templates"] = None
    with pytest.raises(ModelError, match="templates"):
        train_task(task, out=tmp_path / "r2", progress=False, echo=lambda _: None)
    task = pet_task(distill=True)
    task["data"]["unlabeled"] = None
    with pytest.raises(DataError, match="unlabeled"):
        train_task(task, out=tmp_path / "r3", progress=False, echo=lambda _: None)


def test_a_pet_ensemble_is_a_checkpoint_that_eval_and_predict_reproduce(pet_task, tmp_path):
    task = pet_task(weighting="accuracy")
    summary = train_task(task, out=tmp_path / "run", **QUIET)
    ensemble = load_checkpoint(tmp_path / "run")
    assert isinstance(ensemble, Ensemble) and set(ensemble.members) == {"a", "b"}
    assert abs(float(ensemble.weights.sum()) - 1) < 1e-6
    _, _, result = evaluate_checkpoint(task, tmp_path / "run", progress=False)
    assert result.metrics["accuracy"] == summary["test"]["accuracy"]
    written = read_predictions(tmp_path / "run" / "predictions.tsv")
    torch.testing.assert_close(result.probabilities, written, atol=1e-5, rtol=1e-5)
    # the ensemble is the weighted mean of its members' scores, member by member
    texts = [t for t, _ in ROWS[1::2]]
    members = torch.stack([m.scores(texts) for m in ensemble.members.values()])
    expected = (members * ensemble.weights[:, None, None]).sum(0).softmax(-1)
    torch.testing.assert_close(written, expected, atol=1e-4, rtol=1e-4)
    assert ensemble.predict(texts) == [r["prediction"] for r in
                                       read_rows(tmp_path / "run" / "predictions.tsv")]


def test_pet_member_and_distilled_checkpoints_evaluate_with_the_task_they_came_from(pet_task, tmp_path):
    task = pet_task(distill=True)
    summary = train_task(task, out=tmp_path / "run", **QUIET)
    student = load_checkpoint(tmp_path / "run")
    assert not isinstance(student, Ensemble) and student.task["name"] == task["name"]
    assert isinstance(load_checkpoint(tmp_path / "run" / "ensemble"), Ensemble)
    _, _, result = evaluate_checkpoint(task, tmp_path / "run", progress=False)
    assert result.metrics["accuracy"] == summary["test"]["accuracy"]
    member = load_checkpoint(tmp_path / "run" / "ensemble" / "members" / "b")
    assert member.task["name"] == task["name"] and member.task["template"]["text"] == SECOND


def test_pet_errors_leave_no_run_directory(pet_task, tmp_path):
    task = pet_task(distill=True)
    task["data"]["unlabeled"] = None
    with pytest.raises(DataError, match="unlabeled"):
        train_task(task, out=tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()

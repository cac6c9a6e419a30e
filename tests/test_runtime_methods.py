"""Methods with their own loop or their own scoring run through the one runtime layer: every
run is reproduced by `promptc eval` from its checkpoint and usable by `promptc predict`, and an
error found before training leaves no run directory behind."""
from __future__ import annotations

import csv

import pytest
import torch
from click.testing import CliRunner

import tiny
from promptdsl.cli import main
from promptdsl.errors import DataError, ModelError
from promptdsl.runtime import Ensemble, load_checkpoint
from promptdsl.train.inference import evaluate_checkpoint
from promptdsl.train.runner import train_task

POS = [f"It was great . {w}" for w in tiny.WORDS[:12]]
NEG = [f"How far is it ? {w}" for w in tiny.WORDS[:12]]
ROWS = [(t, "1") for t in POS] + [(t, "0") for t in NEG]
SECOND = "{sentence} All in all, it was [MASK]"
QUIET = {"progress": False, "echo": lambda _: None}


def pet_task(tiny_model_dir, tmp_path, **options):
    train = tiny.write_tsv(tmp_path, ROWS[::2], name="train.tsv")
    test = tiny.write_tsv(tmp_path, ROWS[1::2], name="test.tsv")
    unlabeled = tiny.write_tsv(tmp_path, [(t,) for t, _ in ROWS], columns=("sentence",),
                               name="unlabeled.tsv")
    task = tiny.make_task(tiny_model_dir("gpt2"), "{sentence} It was [MASK]", train=train,
                          test=test, unlabeled=unlabeled,
                          methods=[{"name": "pet", "options": options}],
                          train_options={"max_steps": 2, "batch_size": 4, "learning_rate": 1e-3})
    task["templates"] = {"a": dict(task["template"]),
                         "b": {"text": SECOND, "pieces": tiny.pieces_from_text(SECOND)}}
    return task


def read_tsv(path) -> list:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def probabilities(rows) -> torch.Tensor:
    return torch.tensor([[float(r["p(0)"]), float(r["p(1)"])] for r in rows])


def test_a_pet_ensemble_is_a_checkpoint_that_eval_and_predict_reproduce(tiny_model_dir,
                                                                        tmp_path):
    task = pet_task(tiny_model_dir, tmp_path, weighting="accuracy")
    summary = train_task(task, out=tmp_path / "run", **QUIET)
    ensemble = load_checkpoint(tmp_path / "run")
    assert isinstance(ensemble, Ensemble) and set(ensemble.members) == {"a", "b"}
    assert abs(float(ensemble.weights.sum()) - 1) < 1e-6
    _, _, result = evaluate_checkpoint(task, tmp_path / "run", progress=False)
    assert result.metrics["accuracy"] == summary["test"]["accuracy"]
    written = probabilities(read_tsv(tmp_path / "run" / "predictions.tsv"))
    torch.testing.assert_close(result.probabilities, written, atol=1e-5, rtol=1e-5)
    # the ensemble is the weighted mean of its members' scores, member by member
    texts = [t for t, _ in ROWS[1::2]]
    members = torch.stack([m.scores(texts) for m in ensemble.members.values()])
    expected = (members * ensemble.weights[:, None, None]).sum(0).softmax(-1)
    torch.testing.assert_close(written, expected, atol=1e-4, rtol=1e-4)
    assert ensemble.predict(texts) == [r["prediction"] for r in
                                       read_tsv(tmp_path / "run" / "predictions.tsv")]


def test_pet_member_and_distilled_checkpoints_evaluate_with_the_task_they_came_from(
        tiny_model_dir, tmp_path):
    task = pet_task(tiny_model_dir, tmp_path, distill=True)
    summary = train_task(task, out=tmp_path / "run", **QUIET)
    student = load_checkpoint(tmp_path / "run")
    assert not isinstance(student, Ensemble) and student.task["name"] == task["name"]
    assert isinstance(load_checkpoint(tmp_path / "run" / "ensemble"), Ensemble)
    _, _, result = evaluate_checkpoint(task, tmp_path / "run", progress=False)
    assert result.metrics["accuracy"] == summary["test"]["accuracy"]
    member = load_checkpoint(tmp_path / "run" / "ensemble" / "members" / "b")
    assert member.task["name"] == task["name"] and member.task["template"]["text"] == SECOND


def test_pet_errors_leave_no_run_directory(tiny_model_dir, tmp_path):
    task = pet_task(tiny_model_dir, tmp_path, distill=True)
    task["data"]["unlabeled"] = None
    with pytest.raises(DataError, match="unlabeled"):
        train_task(task, out=tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()


def cot_task(tiny_model_dir, tmp_path, name="llama", template="Review: {sentence}\nSentiment: [MASK]"):
    test = tiny.write_tsv(tmp_path, tiny.SST2_ROWS[:4], name="test.tsv")
    return tiny.make_task(tiny_model_dir(name), template, {"0": ["bad"], "1": ["great"]},
                          test=test, methods=[{"name": "cot", "options": {"max_new_tokens": 4}}])


def test_cot_rationales_are_a_predictions_column_and_eval_reproduces_the_run(tiny_model_dir,
                                                                           tmp_path):
    task = cot_task(tiny_model_dir, tmp_path)
    summary = train_task(task, out=tmp_path / "run", **QUIET)
    rows = read_tsv(tmp_path / "run" / "predictions.tsv")
    assert len(rows) == 4 and all(r["rationale"] for r in rows)
    _, _, result = evaluate_checkpoint(task, tmp_path / "run", progress=False)
    assert result.extras["rationale"] == [r["rationale"] for r in rows]
    assert result.metrics["accuracy"] == summary["test"]["accuracy"]
    torch.testing.assert_close(result.probabilities, probabilities(rows), atol=1e-5, rtol=1e-5)
    # the two stages score differently from the plain template: eval must not fall back to it
    plain = load_checkpoint(tmp_path / "run")
    plain.row_scorer = None
    assert not torch.allclose(plain.scores([r for r, _ in tiny.SST2_ROWS[:4]]).softmax(-1),
                              probabilities(rows), atol=1e-4)


def test_cot_on_a_masked_model_is_refused_before_anything_is_written(tiny_model_dir, tmp_path):
    task = cot_task(tiny_model_dir, tmp_path, name="bert",
                    template="Review: {sentence} Sentiment: [MASK] .")
    with pytest.raises(ModelError, match="causal"):
        train_task(task, out=tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()


COT_FILE = """task tiny {{
  model: "{model}"
  data {{ test: "test.tsv" }}
  template: "Review: {{sentence}} Sentiment: [MASK]"
  verbalizer {{ "0": "bad"  "1": "great" }}
  method cot {{ max_new_tokens: 4 }}
}}
"""


def test_predict_uses_the_methods_scoring_and_writes_valid_tsv(tiny_model_dir, tmp_path):
    tiny.write_tsv(tmp_path, tiny.SST2_ROWS[:4], name="test.tsv")
    prompt = tmp_path / "cot.prompt"
    prompt.write_text(COT_FILE.format(model=tiny_model_dir("llama")), encoding="utf-8")
    runner = CliRunner()
    trained = runner.invoke(main, ["train", str(prompt), "--out", str(tmp_path / "run")])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(main, ["predict", str(prompt), "--checkpoint",
                                  str(tmp_path / "run"), "--text", "tab\there\nnew line"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    header, row = lines[0].split("\t"), lines[1].split("\t")
    assert "rationale" in header and len(row) == len(header)
    assert row[0] == "tab\\there\\nnew line"

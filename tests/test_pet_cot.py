"""method cot: zero-shot chain of thought on causal models (two stages through the template)."""
from __future__ import annotations

import csv

import pytest
import torch

import tiny
from click.testing import CliRunner

from promptdsl.cli import main
from promptdsl.errors import ModelError
from promptdsl.train.runner import train_task
from promptdsl.runtime import label_scores, load_checkpoint
from promptdsl.train.inference import evaluate_checkpoint
from promptdsl_plugins.methods._cot import RATIONALE, stage_pieces

TEMPLATE = "Review: {sentence}\nSentiment: [MASK]"


QUIET = {"progress": False, "echo": lambda _: None}


def read_tsv(path) -> list:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def probabilities(rows) -> torch.Tensor:
    return torch.tensor([[float(r["p(0)"]), float(r["p(1)"])] for r in rows])


def cot_task(tiny_model_dir, tmp_path, name="llama", template=TEMPLATE):
    test = tiny.write_tsv(tmp_path, tiny.SST2_ROWS[:4], name="test.tsv")
    return tiny.make_task(tiny_model_dir(name), template, {"0": ["bad"], "1": ["great"]},
                          test=test, methods=[{"name": "cot", "options": {
                              "max_new_tokens": 4, "trigger": "Let's think step by step.",
                              "answer_trigger": "Therefore, the answer is"}}])


def answer_pieces(model):
    """Stage two's pieces and the name of the field that holds the rationale."""
    pieces = stage_pieces(model.template.pieces, "Let's think step by step.",
                          "Therefore, the answer is")
    fields = [p["name"] for p in pieces if p["type"] == "field" and p["name"] != "sentence"]
    return pieces, fields[0]


def test_stage_two_input_holds_trigger_rationale_and_answer_trigger(tiny_model_dir, tmp_path):
    import promptdsl
    task = cot_task(tiny_model_dir, tmp_path)
    model = promptdsl.compile(task)
    pieces, field = answer_pieces(model)
    features = model.encode([{"sentence": "it was fun", field: "fun is good"}], labels=False,
                            pieces=pieces)
    batch = model.collate(features)
    text = model.tokenizer.decode(batch["input_ids"][0][batch["attention_mask"][0].bool()])
    assert " ".join(text.split()).endswith(
        "Review: it was fun Sentiment: Let's think step by step. fun is good "
        "Therefore, the answer is")
    one = stage_pieces(model.template.pieces, "Let's think step by step.")
    assert [p["type"] for p in one][-2:] == ["text", "mask"]


def test_cot_run_generates_rationales_then_reads_the_answer(tiny_model_dir, tmp_path):
    import promptdsl
    task = cot_task(tiny_model_dir, tmp_path)
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    with open(tmp_path / "run" / "predictions.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 4 and all(r[RATIONALE] for r in rows)
    gold = [label for _, label in tiny.SST2_ROWS[:4]]
    assert [r["gold"] for r in rows] == gold
    assert summary["test"]["accuracy"] == sum(r["gold"] == r["prediction"] for r in rows) / 4
    # the answer is read after each row's own rationale: stage two scored again by hand
    model = promptdsl.compile(task)
    pieces, field = answer_pieces(model)
    answered = [{"sentence": sentence, field: r[RATIONALE]}
                for (sentence, _), r in zip(tiny.SST2_ROWS[:4], rows)]
    expected = label_scores(model, model.encode(answered, labels=False, pieces=pieces))
    written = torch.tensor([[float(r["p(0)"]), float(r["p(1)"])] for r in rows])
    torch.testing.assert_close(written, expected.softmax(-1), atol=1e-5, rtol=1e-4)
    assert [r["prediction"] for r in rows] == [model.labels[i] for i in expected.argmax(-1)]


def test_cot_needs_a_causal_model(tiny_model_dir, tmp_path):
    task = cot_task(tiny_model_dir, tmp_path, name="bert",
                    template="Review: {sentence} Sentiment: [MASK] .")
    with pytest.raises(ModelError, match="causal"):
        train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)


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

"""method cot: zero-shot chain of thought on causal models (two stages through the template)."""
from __future__ import annotations

import csv

import pytest

import tiny
from promptdsl.errors import ModelError
from promptdsl.train.runner import train_task
from promptdsl_plugins.methods._cot import RATIONALE, renderer, stage_pieces

TEMPLATE = "Review: {sentence}\nSentiment: [MASK]"


def cot_task(tiny_model_dir, tmp_path, name="llama", template=TEMPLATE):
    test = tiny.write_tsv(tmp_path, tiny.SST2_ROWS[:4], name="test.tsv")
    return tiny.make_task(tiny_model_dir(name), template, {"0": ["bad"], "1": ["great"]},
                          test=test, methods=[{"name": "cot", "options": {
                              "max_new_tokens": 4, "trigger": "Let's think step by step.",
                              "answer_trigger": "Therefore, the answer is"}}])


def test_stage_two_input_holds_trigger_rationale_and_answer_trigger(tiny_model_dir, tmp_path):
    import promptdsl
    task = cot_task(tiny_model_dir, tmp_path)
    model = promptdsl.compile(task)
    pieces = stage_pieces(model.template.pieces, "Let's think step by step.",
                          "Therefore, the answer is")
    features = renderer(model, pieces).encode([{"sentence": "it was fun", RATIONALE: "fun is good"}])
    batch = model.collate(features)
    text = model.tokenizer.decode(batch["input_ids"][0][batch["attention_mask"][0].bool()])
    assert " ".join(text.split()).endswith(
        "Review: it was fun Sentiment: Let's think step by step. fun is good "
        "Therefore, the answer is")
    one = stage_pieces(model.template.pieces, "Let's think step by step.")
    assert [p["type"] for p in one][-2:] == ["text", "mask"]


def test_cot_run_generates_rationales_then_reads_the_answer(tiny_model_dir, tmp_path):
    task = cot_task(tiny_model_dir, tmp_path)
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0
    with open(tmp_path / "run" / "rationales.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 4 and all(r["rationale"] for r in rows)
    assert (tmp_path / "run" / "predictions.tsv").is_file()


def test_cot_needs_a_causal_model(tiny_model_dir, tmp_path):
    task = cot_task(tiny_model_dir, tmp_path, name="bert",
                    template="Review: {sentence} Sentiment: [MASK] .")
    with pytest.raises(ModelError, match="causal"):
        train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)

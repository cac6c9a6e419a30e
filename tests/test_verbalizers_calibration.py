"""Calibration (`calibrate: contextual | prior`) removes a label bias planted in a tiny model,
for word-based kinds (manual, knowledgeable) and label-head kinds (soft)."""
from __future__ import annotations

import pytest
import torch

import tiny
from promptdsl.data import Table
from promptdsl.model.compile import compile_task
from promptdsl.train.prepare import prepare_model

LABELS = {"0": ["terrible"], "1": ["great"]}
TEXTS = (tiny.SST2_LINES + tiny.OTHER_LINES + [f"It was {w} ." for w in tiny.WORDS]
         + [f"The {w} movie" for w in tiny.WORDS])


def build(tiny_model_dir, kind="manual", calibrate="none"):
    task = tiny.make_task(tiny_model_dir("roberta"), "{sentence} It was [MASK] .", LABELS,
                          verbalizer_kind=kind, verbalizer_options={"calibrate": calibrate},
                          methods=[])
    return compile_task(task)


def balanced_set(model):
    """Rows whose gold label is what the unbiased model predicts, as many of each label."""
    predicted = model.scores(TEXTS).argmax(-1)
    ones = [t for t, p in zip(TEXTS, predicted.tolist()) if p == 1]
    zeros = [t for t, p in zip(TEXTS, predicted.tolist()) if p == 0]
    n = min(len(ones), len(zeros))
    assert n >= 5, "the tiny model should predict both labels on some rows"
    rows = [{"sentence": t, "label": "1"} for t in ones[:n]] + \
        [{"sentence": t, "label": "0"} for t in zeros[:n]]
    return rows


def plant_bias(model, kind, amount=3.0):
    """Favour label 1 on every input: raise the output bias of its word (or its label bias)."""
    with torch.no_grad():
        if kind == "soft":
            model.verbalizer.label_bias[1] += amount
        else:
            great = int(model.verbalizer.word_ids[1, 0])
            model.backbone.get_output_embeddings().bias[great] += amount


def accuracy(model, rows):
    predicted = model.predict(rows)
    return sum(p == r["label"] for p, r in zip(predicted, rows)) / len(rows)


def as_table(rows):
    return Table("<rows>", ["sentence", "label"], rows, list(range(2, len(rows) + 2)))


@pytest.mark.parametrize("kind", ["manual", "knowledgeable", "soft"])
@pytest.mark.parametrize("mode", ["contextual", "prior"])
def test_calibration_removes_a_planted_label_bias(tiny_model_dir, kind, mode):
    rows = balanced_set(build(tiny_model_dir))
    biased = build(tiny_model_dir, kind)
    plant_bias(biased, kind)
    assert accuracy(biased, rows) <= 0.6           # the bias wins almost everywhere

    calibrated = build(tiny_model_dir, kind, calibrate=mode)
    plant_bias(calibrated, kind)
    prepare_model(calibrated, train=None, unlabeled=as_table(rows), echo=lambda _: None)
    assert accuracy(calibrated, rows) >= accuracy(biased, rows) + 0.25


@pytest.mark.parametrize("kind", ["manual", "soft"])
def test_contextual_calibration_cancels_a_constant_bias(tiny_model_dir, kind):
    """A bias added to one label's logit on every input is divided out by the content-free
    prediction, so calibrated scores hardly depend on it (exactly, for one content-free input;
    the two of Zhao et al. are averaged, which leaves a trace)."""
    texts = TEXTS[:6]
    clean = build(tiny_model_dir, kind, calibrate="contextual")
    prepare_model(clean, echo=lambda _: None)
    biased = build(tiny_model_dir, kind, calibrate="contextual")
    plant_bias(biased, kind, amount=5.0)
    prepare_model(biased, echo=lambda _: None)
    torch.testing.assert_close(biased.scores(texts).softmax(-1), clean.scores(texts).softmax(-1),
                               atol=2e-3, rtol=0)
    uncalibrated = build(tiny_model_dir, kind)
    plant_bias(uncalibrated, kind, amount=5.0)
    assert (uncalibrated.scores(texts).softmax(-1) - clean.scores(texts).softmax(-1)).abs().max() > 0.1


def test_prior_calibration_without_data_is_a_clear_error(tiny_model_dir):
    from promptdsl.errors import DataError
    model = build(tiny_model_dir, calibrate="prior")
    with pytest.raises(DataError, match="data.unlabeled"):
        prepare_model(model, echo=lambda _: None)


def test_calibration_is_saved_with_the_checkpoint(tiny_model_dir, tmp_path):
    from promptdsl.train.checkpoint import load_checkpoint, save_checkpoint
    model = build(tiny_model_dir, calibrate="contextual")
    plant_bias(model, "manual")
    prepare_model(model, echo=lambda _: None)
    save_checkpoint(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    torch.testing.assert_close(loaded.verbalizer.calibration, model.verbalizer.calibration)

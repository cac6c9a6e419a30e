"""Evaluating a generation task: the teacher-forced loss of the targets, the generated text of
every distinct input, and the text metrics over all of each input's references.

Rows whose rendered input is identical (same tokens, same soft positions) are one input: E2E
has about eight human references per meaning representation, each on its own row, and BLEU /
ROUGE compare the one generated text with all of them. `EvalResult.rows` gives the first row of
each input, `predictions` its text, and the `reference` / `references` extras the first
reference and how many there are (what predictions.tsv shows).
"""
from __future__ import annotations

import math
import time

import torch

from ..model.generation import generate_texts
from ..model.rows import map_rows
from .metrics import compute_text_metrics


def target_loss(model, features, **map_options) -> float:
    """The mean cross-entropy over every target token of `features` (teacher-forced)."""
    def per_row(batch):
        rows, losses = model.target_losses(batch)
        out = torch.zeros(batch["input_ids"].shape[0], 2, device=losses.device)
        out[:, 0].index_add_(0, rows.to(losses.device), losses)
        out[:, 1].index_add_(0, rows.to(losses.device), torch.ones_like(losses))
        return out
    sums = map_rows(model, features, per_row, **map_options).sum(0)
    return float(sums[0] / sums[1]) if float(sums[1]) else float("nan")


def evaluate_generation(trainer, split, desc: str = "eval"):
    """EvalResult of a generation model on an encoded split: with targets, one prediction per
    distinct input and metrics over its references (plus the target loss); without, one
    prediction per row and no metrics."""
    from .trainer import EvalResult, NonFiniteLoss
    model, features = trainer.model, split.features
    options = {"autocast": trainer.autocast_dtype, "progress": trainer.progress}
    start = time.perf_counter()
    if not features.has_targets:
        texts = generate_texts(model, features, desc=desc, **options)
        return EvalResult({}, texts, None, len(texts), time.perf_counter() - start,
                          rows=list(range(len(texts))))
    group, firsts = features.input_groups()
    predictions = generate_texts(model, features.select(firsts), desc=desc, **options)
    targets = model.renderer().target.texts(split.table)
    references = [[] for _ in firsts]
    for row, g in enumerate(group):
        references[g].append(targets[row])
    metrics = compute_text_metrics(predictions, references, trainer.metric)
    metrics["loss"] = target_loss(model, features, **options, desc=f"{desc} loss")
    if not math.isfinite(metrics["loss"]):
        raise NonFiniteLoss(f"the model's loss on the {split.name} targets is "
                            f"{metrics['loss']}: its weights diverged or a method broke the "
                            "forward pass; no metrics reported")
    extras = {"reference": [refs[0] for refs in references],
              "references": [len(refs) for refs in references]}
    return EvalResult(metrics, predictions, None, len(predictions),
                      time.perf_counter() - start, extras, rows=firsts)

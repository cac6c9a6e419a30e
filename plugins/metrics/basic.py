"""Classification metrics: accuracy, macro-F1 and per-label F1.

`compute(gold, predicted, labels)` gets label values (not indices) and the task's label list in
verbalizer order. Macro-F1 averages over the labels that occur in gold or predictions (the
scikit-learn convention); per-label F1 reports every label of the task."""
from __future__ import annotations

from promptdsl import MetricSpec


def accuracy(gold: list, predicted: list, labels: list) -> float:
    if not gold:
        return 0.0
    return sum(g == p for g, p in zip(gold, predicted)) / len(gold)


def _f1(gold: list, predicted: list, label) -> float:
    tp = sum(g == label and p == label for g, p in zip(gold, predicted))
    n_pred = sum(p == label for p in predicted)
    n_gold = sum(g == label for g in gold)
    if n_pred + n_gold == 0:
        return 0.0
    return 2 * tp / (n_pred + n_gold)


def per_label_f1(gold: list, predicted: list, labels: list) -> dict:
    return {str(label): _f1(gold, predicted, label) for label in labels}


def macro_f1(gold: list, predicted: list, labels: list) -> float:
    # labels absent from both gold and predictions are undefined, not zero: leave them out
    present = [label for label in labels if label in set(gold) | set(predicted)]
    if not present:
        return 0.0
    return sum(_f1(gold, predicted, label) for label in present) / len(present)


SPECS = [
    MetricSpec(name="accuracy", compute=accuracy),
    MetricSpec(name="macro_f1", compute=macro_f1),
    MetricSpec(name="per_label_f1", compute=per_label_f1),
]

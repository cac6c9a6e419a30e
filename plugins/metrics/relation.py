"""Relation classification's directed macro-F1: SemEval-2010 Task 8's official score.

It is what the official scorer (semeval2010_task8_scorer-v1.2.pl) reports as "(9+1)-way
classification with directionality taken into account". Labels are read as `Name(args)`:
`Cause-Effect(e2,e1)` is the relation type `Cause-Effect` in direction `e2,e1`; a label without
a trailing `(…)` is a type of its own; the type `Other` is left out of the average. For every
type R that occurs in the gold labels (the scorer's loop):

- TP = rows predicted exactly as their gold label (right type *and* direction);
- precision = TP / rows predicted as type R in either direction (so a right type with the wrong
  direction costs precision, as the scorer's `xDIRx` column adds to the denominator);
- recall = TP / rows whose gold label is type R in either direction;
- F1 = 2PR / (P + R), 0 when P + R = 0.

The score is the mean F1 over those types; 0.0 when gold holds no type but `Other` (the scorer
would divide by zero there)."""
from __future__ import annotations

from promptdsl import MetricSpec

EXCLUDED_TYPE = "Other"


def relation_type(label) -> str:
    """`Name(args)` -> `Name`; a label without a trailing `(…)` (or with nothing before it) is
    its own type."""
    text = str(label).strip()
    if text.endswith(")") and "(" in text:
        name = text[:text.rindex("(")].strip()
        if name:
            return name
    return text


def _type_f1(gold: list, predicted: list, kind: str) -> float:
    tp = sum(g == p and relation_type(g) == kind for g, p in zip(gold, predicted))
    n_pred = sum(relation_type(p) == kind for p in predicted)
    n_gold = sum(relation_type(g) == kind for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def relation_f1(gold: list, predicted: list, labels: list) -> float:
    if len(gold) != len(predicted):
        raise ValueError(f"relation_f1: {len(gold)} gold labels but {len(predicted)} predictions")
    gold = [str(g).strip() for g in gold]
    predicted = [str(p).strip() for p in predicted]
    types = sorted({relation_type(g) for g in gold} - {EXCLUDED_TYPE})
    if not types:
        return 0.0
    return sum(_type_f1(gold, predicted, kind) for kind in types) / len(types)


SPECS = [
    MetricSpec(name="relation_f1", compute=relation_f1,
               description="SemEval-2010 Task 8's official score: macro-F1 over the relation "
                           "types of `Type(e1,e2)` / `Type(e2,e1)` labels, a prediction right "
                           "only with the gold direction, the type `Other` excluded"),
]

"""`relation_f1` (plugins/metrics/relation.py): SemEval-2010 Task 8's official directed macro-F1,
by hand and against a transcription of the official Perl scorer's bookkeeping."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from promptdsl import registry
from promptdsl.train.metrics import compute_metrics

CE1, CE2 = "Cause-Effect(e1,e2)", "Cause-Effect(e2,e1)"
MT1, MT2 = "Message-Topic(e1,e2)", "Message-Topic(e2,e1)"
PP1, EO1 = "Product-Producer(e1,e2)", "Entity-Origin(e1,e2)"

# (gold, predicted)
ROWS = [(CE1, CE1),        # right type and direction
        (CE2, CE1),        # right type, wrong direction: a miss
        (CE1, "Other"),    # predicted Other
        (MT1, MT1),
        (MT2, CE2),        # wrong type
        (PP1, "Other"),    # Product-Producer: in gold, never predicted
        ("Other", MT2),
        ("Other", "Other"),
        ("Other", CE1),
        ("Other", EO1)]    # Entity-Origin: predicted, never in gold, so not averaged
GOLD = [g for g, _ in ROWS]
PREDICTED = [p for _, p in ROWS]
# By hand, over the types in gold except Other (Cause-Effect, Message-Topic, Product-Producer):
#   Cause-Effect:     TP = 1 (row 1); predicted as C-E in either direction: rows 1, 2, 5, 9 = 4;
#                     gold C-E: rows 1, 2, 3 = 3.  P = 1/4, R = 1/3, F1 = 2*(1/12)/(7/12) = 2/7
#   Message-Topic:    TP = 1 (row 4); predicted: rows 4, 7 = 2; gold: rows 4, 5 = 2.  F1 = 1/2
#   Product-Producer: TP = 0, never predicted.  F1 = 0
#   score = (2/7 + 1/2 + 0) / 3 = 11/42
BY_HAND = 11 / 42


def relation_f1(gold, predicted, labels=()):
    return registry.get_registry().metrics["relation_f1"].compute(gold, predicted, list(labels))


def test_the_hand_made_case():
    assert relation_f1(GOLD, PREDICTED) == pytest.approx(BY_HAND)


def test_the_wrong_direction_is_a_miss():
    # with row 2 predicted in its gold direction, Cause-Effect has TP 2 of 4 predicted, 3 gold:
    # F1 = 2*(1/2)(2/3)/(7/6) = 4/7, score (4/7 + 1/2 + 0) / 3 = 15/42
    fixed = [CE2 if n == 1 else p for n, p in enumerate(PREDICTED)]
    assert relation_f1(GOLD, fixed) == pytest.approx(15 / 42)


def test_registered_as_a_label_metric_and_reported_by_an_evaluation():
    spec = registry.get_registry().metrics["relation_f1"]
    assert spec.kind == "label" and spec.higher_is_better and spec.description
    labels = sorted(set(GOLD) | set(PREDICTED))
    scores = compute_metrics(GOLD, PREDICTED, labels, "relation_f1")
    assert scores["relation_f1"] == pytest.approx(BY_HAND)
    assert scores["macro_f1"] != pytest.approx(BY_HAND)   # not the undirected per-label mean


def test_labels_without_a_direction_are_types_of_their_own():
    # "cause" and "effect" are two types; "Other" is excluded even when it is predicted right
    gold = ["cause", "effect", "Other", "cause"]
    predicted = ["cause", "cause", "Other", "cause"]
    # cause: TP 2, predicted 3, gold 2 -> F1 = 2*(2/3)*1/(5/3) = 4/5; effect: F1 0
    assert relation_f1(gold, predicted) == pytest.approx((4 / 5 + 0) / 2)


def test_edges():
    assert relation_f1([CE1, MT2], [CE1, MT2]) == 1.0
    assert relation_f1(["Other", "Other"], ["Other", CE1]) == 0.0   # no type to average
    assert relation_f1([], []) == 0.0
    with pytest.raises(ValueError, match="2 gold labels but 1 predictions"):
        relation_f1([CE1, CE2], [CE1])


def _perl_scorer(gold: list, predicted: list) -> float:
    """The official scorer's (iii) evaluation, step by step as semeval2010_task8_scorer-v1.2.pl
    does it: a 10-way confusion matrix whose wrong-direction hits go to a `WRONG_DIR` row."""
    undirected = [re.sub(r"\(e[12],e[12]\)$", "", label) for label in gold + predicted]
    gold_nodir, pred_nodir = undirected[:len(gold)], undirected[len(gold):]
    matrix, proposed = Counter(), Counter()
    for g, p, g_nodir, p_nodir in zip(gold, predicted, gold_nodir, pred_nodir):
        row = "WRONG_DIR" if g != p and g_nodir == p_nodir else p_nodir
        matrix[row, g_nodir] += 1
        proposed[row] += 1
    answer = Counter(gold_nodir)
    f1s = []
    for label in sorted(answer):
        wrong_dir = matrix["WRONG_DIR", label]
        p = 0 if proposed[label] == 0 else matrix[label, label] / (proposed[label] + wrong_dir)
        r = matrix[label, label] / answer[label]
        if label != "Other":
            f1s.append(0 if p + r == 0 else 2 * p * r / (p + r))
    return sum(f1s) / len(f1s)


LABELS = [CE1, CE2, MT1, MT2, PP1, "Other"]
PAIRS = st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1,
                 max_size=30).filter(lambda rows: any(g != "Other" for g, _ in rows))


@settings(max_examples=200, deadline=None)
@given(PAIRS)
def test_agrees_with_the_official_scorer(rows):
    gold, predicted = [g for g, _ in rows], [p for _, p in rows]
    assert relation_f1(gold, predicted) == pytest.approx(_perl_scorer(gold, predicted))

"""Generation metrics (plugins/metrics/text.py) against the libraries called directly, the
kind-aware metric lookup and the generation table."""
from __future__ import annotations

import statistics

import pytest
import sacrebleu
from rouge_score.rouge_scorer import RougeScorer

from promptdsl import MetricSpec, hookimpl, registry
from promptdsl.errors import PluginError
from promptdsl.train.metrics import (compute_metrics, compute_text_metrics, format_table,
                                     metric_spec)

# 3 inputs with 3, 2 and 1 references; the first reference is never the closest one
PREDICTIONS = ["the cat sat on the mat", "a fast brown fox jumps", "hello there world"]
REFERENCES = [["the cat is sitting on a mat", "the cat sat on the mat today", "a cat sat there"],
              ["the quick brown fox jumped", "a fast brown fox jumped"],
              ["hello world"]]
# sacrebleu's own layout, written out: stream k = the k-th reference of each input, None where
# an input has fewer
STREAMS = [["the cat is sitting on a mat", "the quick brown fox jumped", "hello world"],
           ["the cat sat on the mat today", "a fast brown fox jumped", None],
           ["a cat sat there", None, None]]
FIRST_ONLY = [STREAMS[0]]


def compute(name, predictions=PREDICTIONS, references=REFERENCES):
    return registry.get_registry().metrics[name].compute(predictions, references)


def test_the_registry_sees_the_text_metrics():
    metrics = registry.get_registry().metrics
    assert {name: metrics[name].kind for name in ("bleu", "chrf", "rouge", "exact_match")} == \
        dict.fromkeys(("bleu", "chrf", "rouge", "exact_match"), "text")
    assert all(metrics[name].description for name in ("bleu", "chrf", "rouge", "exact_match"))


@pytest.mark.parametrize("name, corpus_score", [("bleu", sacrebleu.corpus_bleu),
                                                ("chrf", sacrebleu.corpus_chrf)])
def test_sacrebleu_scores_use_every_reference(name, corpus_score):
    ours = compute(name)
    assert ours == pytest.approx(corpus_score(PREDICTIONS, STREAMS).score / 100, abs=1e-9)
    # scoring against the first references alone gives another figure
    assert abs(ours - corpus_score(PREDICTIONS, FIRST_ONLY).score / 100) > 0.05


def test_rouge_is_the_mean_of_score_multi_with_stemming():
    scorer = RougeScorer(["rougeL"], use_stemmer=True)
    expected = statistics.fmean(scorer.score_multi(refs, pred)["rougeL"].fmeasure
                                for pred, refs in zip(PREDICTIONS, REFERENCES))
    assert compute("rouge") == pytest.approx(expected, abs=1e-12)
    # stemming matters here ("jumps" / "jumped"), and so does the best reference
    unstemmed = RougeScorer(["rougeL"], use_stemmer=False)
    assert compute("rouge") > statistics.fmean(
        unstemmed.score_multi(refs, pred)["rougeL"].fmeasure
        for pred, refs in zip(PREDICTIONS, REFERENCES)) + 0.05
    first_only = statistics.fmean(scorer.score(refs[0], pred)["rougeL"].fmeasure
                                  for pred, refs in zip(PREDICTIONS, REFERENCES))
    assert compute("rouge") > first_only + 0.05


def test_exact_match_collapses_whitespace_but_keeps_case():
    predictions = ["  a  cat\tsat ", "The dog", "x y", "nothing"]
    references = [["a cat sat"], ["the dog"], ["z", "x\n y"], ["something"]]
    assert compute("exact_match", predictions, references) == pytest.approx(2 / 4)


@pytest.mark.parametrize("name", ["bleu", "chrf", "rouge", "exact_match"])
def test_no_inputs_score_zero(name):
    assert compute(name, [], []) == 0.0


@pytest.mark.parametrize("name", ["bleu", "chrf", "rouge", "exact_match"])
@pytest.mark.parametrize("predictions, references, message", [
    (["a", "b"], [["a"]], "2 predictions but 1 reference lists"),
    (["a", "b"], [["a"], []], "input 1 has no reference"),
    (["a"], ["a"], "one string, not a list"),
    (["a"], [["a", None]], "must be strings"),
])
def test_bad_references_are_value_errors(name, predictions, references, message):
    with pytest.raises(ValueError, match=message):
        compute(name, predictions, references)


def test_compute_text_metrics_keys():
    assert list(compute_text_metrics(PREDICTIONS, REFERENCES, None)) == ["bleu", "rouge"]
    assert list(compute_text_metrics(PREDICTIONS, REFERENCES, "bleu")) == ["bleu", "rouge"]
    metrics = compute_text_metrics(PREDICTIONS, REFERENCES, "exact_match")
    assert list(metrics) == ["bleu", "rouge", "exact_match"]
    assert metrics["bleu"] == compute("bleu") and metrics["exact_match"] == 0.0


class LengthMetric:
    """A third party's text metric: the mean length ratio of prediction to first reference."""
    @hookimpl
    def promptdsl_metrics(self):
        def ratio(predictions, references):
            return statistics.fmean(len(p) / len(refs[0])
                                    for p, refs in zip(predictions, references))
        return [MetricSpec("length_ratio", ratio, kind="text")]


def test_a_third_party_text_metric_is_computed():
    registry.register(LengthMetric(), name="length")
    try:
        metrics = compute_text_metrics(["abcd"], [["ab", "abcdef"]], "length_ratio")
        assert metrics["length_ratio"] == 2.0
        with pytest.raises(PluginError, match="label metric: accuracy, macro_f1, per_label_f1, relation_f1$"):
            compute_metrics(["a"], ["a"], ["a"], "length_ratio")
    finally:
        registry.reset()


def test_a_metric_of_the_other_kind_is_a_clear_error():
    with pytest.raises(PluginError) as error:
        compute_text_metrics(PREDICTIONS, REFERENCES, "accuracy")
    assert str(error.value) == ("metric `accuracy` compares labels; a generation task needs a "
                                "text metric: bleu, chrf, rouge, exact_match")
    with pytest.raises(PluginError) as error:
        compute_metrics(["a"], ["a"], ["a"], "bleu")
    assert str(error.value) == ("metric `bleu` compares texts; a classification task needs a "
                                "label metric: accuracy, macro_f1, per_label_f1, relation_f1")
    assert metric_spec("bleu").kind == "text"          # no kind asked: any metric
    with pytest.raises(PluginError, match="unknown metric `bleurt`"):
        metric_spec("bleurt", "text")


def test_generation_table_has_no_label_columns():
    text = format_table({"test": {"bleu": 0.4125, "rouge": 0.5, "exact_match": 0.1,
                                  "loss": 2.0, "examples": 12}})
    header, rule, row = text.splitlines()
    assert header.split() == ["bleu", "rouge", "exact_match"]
    assert row.split() == ["test", "41.25", "50.00", "10.00"]

"""Generation metrics: BLEU, chrF (sacrebleu), ROUGE-L (rouge_score) and exact match.

`compute(predictions, references)` gets one generated string per distinct input and, for each,
the list of all its reference strings (any number, at least one). Scores are fractions: BLEU and
chrF are sacrebleu's 0-100 corpus scores divided by 100. sacrebleu and rouge_score are imported
inside the functions so that `promptc check` never pays for them."""
from __future__ import annotations

import statistics

from promptdsl import MetricSpec


def _checked(predictions: list, references: list) -> list:
    """The references as lists. A length mismatch (sacrebleu would silently score only the common
    prefix), an input without a reference, or a non-string is a ValueError."""
    if len(predictions) != len(references):
        raise ValueError(f"text metric: {len(predictions)} predictions but {len(references)} "
                         "reference lists (one list per input is needed)")
    checked = []
    for n, refs in enumerate(references):
        if isinstance(refs, str):
            raise ValueError(f"text metric: the references of input {n} are one string, not a "
                             "list of strings (wrap it: [reference])")
        refs = list(refs)
        if not refs:
            raise ValueError(f"text metric: input {n} has no reference")
        if not all(isinstance(text, str) for text in [predictions[n], *refs]):
            raise ValueError(f"text metric: input {n}: predictions and references must be "
                             f"strings, got {predictions[n]!r} and {refs!r}")
        checked.append(refs)
    return checked


def _reference_streams(references: list) -> list:
    """sacrebleu's layout: stream k holds the k-th reference of every input; an input with fewer
    references than the most is padded with None, which sacrebleu drops
    (`Metric._cache_references`), so it is scored against its own references only."""
    most = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]


def bleu(predictions: list, references: list) -> float:
    references = _checked(predictions, references)
    if not predictions:
        return 0.0
    from sacrebleu.metrics import BLEU
    # force: text that is already tokenised (E2E) is scored as it is, without sacrebleu's
    # "forgot to detokenize" warning on every evaluation (13a leaves such text unchanged)
    return BLEU(force=True).corpus_score(predictions,
                                         _reference_streams(references)).score / 100


def chrf(predictions: list, references: list) -> float:
    references = _checked(predictions, references)
    if not predictions:
        return 0.0
    from sacrebleu.metrics import CHRF
    return CHRF().corpus_score(predictions, _reference_streams(references)).score / 100


def rouge(predictions: list, references: list) -> float:
    """Mean over inputs of ROUGE-L F-measure against the best-matching reference
    (`RougeScorer.score_multi`), with the Porter stemmer (use_stemmer=True, as most papers)."""
    references = _checked(predictions, references)
    if not predictions:
        return 0.0
    from rouge_score.rouge_scorer import RougeScorer
    scorer = RougeScorer(["rougeL"], use_stemmer=True)
    return statistics.fmean(scorer.score_multi(refs, prediction)["rougeL"].fmeasure
                            for prediction, refs in zip(predictions, references))


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def exact_match(predictions: list, references: list) -> float:
    """The fraction of inputs whose prediction equals one of its references once runs of
    whitespace are collapsed and ends stripped (case-sensitive)."""
    references = _checked(predictions, references)
    if not predictions:
        return 0.0
    hits = sum(_collapsed(prediction) in {_collapsed(ref) for ref in refs}
               for prediction, refs in zip(predictions, references))
    return hits / len(predictions)


SPECS = [
    MetricSpec(name="bleu", compute=bleu, kind="text",
               description="sacrebleu corpus BLEU (tokenizer 13a) over all references, / 100"),
    MetricSpec(name="chrf", compute=chrf, kind="text",
               description="sacrebleu corpus chrF over all references, / 100"),
    MetricSpec(name="rouge", compute=rouge, kind="text",
               description="mean ROUGE-L F-measure (stemmed) against the best reference"),
    MetricSpec(name="exact_match", compute=exact_match, kind="text",
               description="fraction of predictions equal to a reference, whitespace collapsed"),
]

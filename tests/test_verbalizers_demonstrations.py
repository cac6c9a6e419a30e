"""`data.demonstrations: K`: K train rows per label, rendered with the template and their label
word in the mask's place, appear before every query (causal models: in-context learning)."""
from __future__ import annotations

import pytest

import tiny
from promptdsl.data import Table
from promptdsl.errors import DataError
from promptdsl.model.compile import compile_task
from promptdsl.train.prepare import prepare_model

TRAIN = [("it was fun", "1"), ("a charming journey", "1"), ("so very slow", "0"),
         ("bleak and desperate", "0"), ("wonderful music", "1"), ("labored gags", "0")]


def train_table():
    rows = [{"sentence": s, "label": y} for s, y in TRAIN]
    return Table("train.tsv", ["sentence", "label"], rows, list(range(2, len(rows) + 2)))


def build(tiny_model_dir, k, name="gpt2", seed=13):
    template = "Review: {sentence} Sentiment: [MASK]"
    task = tiny.make_task(tiny_model_dir(name), template, {"0": ["bad"], "1": ["great"]},
                          demonstrations=k, sample_seed=seed, methods=[])
    return compile_task(task)


def rendered(model, rows):
    features = model.encode(rows, labels=False)
    batch = model.collate(features)
    texts = []
    for ids, mask in zip(batch["input_ids"], batch["attention_mask"]):
        texts.append(model.tokenizer.decode(ids[mask.bool()].tolist()))
    return texts


def test_demonstrations_appear_before_the_query(tiny_model_dir):
    model = build(tiny_model_dir, k=1)
    prepare_model(model, train=train_table(), echo=lambda _: None)
    text = rendered(model, [{"sentence": "the acting is astounding"}])[0]
    assert text.endswith("Review: the acting is astounding Sentiment:")
    demos = text[:text.rindex("Review: the acting")]
    assert demos.count("Review:") == 2                      # K = 1 per label, two labels
    assert demos.count("Sentiment: great") == 1 and demos.count("Sentiment: bad") == 1
    shown = [s for s, _ in TRAIN if s in demos]
    assert len(shown) == 2
    assert {dict(TRAIN)[s] for s in shown} == {"0", "1"}   # each with its own label's word
    for sentence in shown:
        word = "great" if dict(TRAIN)[sentence] == "1" else "bad"
        assert f"Review: {sentence} Sentiment: {word}" in demos


def test_demonstrations_follow_the_seed_and_never_show_the_query_itself(tiny_model_dir):
    a, b, c = (build(tiny_model_dir, k=2, seed=s) for s in (13, 13, 21))
    for model in (a, b, c):
        prepare_model(model, train=train_table(), echo=lambda _: None)
    queries = [{"sentence": f"query {i}"} for i in range(4)]
    assert rendered(a, queries) == rendered(b, queries)
    assert rendered(a, queries) != rendered(c, queries)
    own = rendered(a, train_table())               # encoding the pool itself
    for (sentence, _), text in zip(TRAIN, own):
        assert text.count(sentence) == 1           # only as the query


def test_too_few_rows_for_k_per_label_is_a_clear_error(tiny_model_dir):
    model = build(tiny_model_dir, k=3)
    with pytest.raises(DataError, match="3 per label"):
        prepare_model(model, train=train_table(), echo=lambda _: None)
    with pytest.raises(DataError, match="data.train"):
        prepare_model(build(tiny_model_dir, k=1), echo=lambda _: None)

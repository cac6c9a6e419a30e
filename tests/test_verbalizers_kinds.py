"""Each verbalizer kind changes predictions as it should, on tiny models:
auto finds words that separate the classes, proto uses its prototypes, soft starts as the
label words and trains, knowledgeable expands, refines and learns word weights."""
from __future__ import annotations

import pytest
import torch

import tiny
from promptdsl.data import Table
from promptdsl.model.compile import compile_task
from promptdsl.train.prepare import prepare_model

QUIET = {"echo": lambda _: None}
# two kinds of rows the tiny models tell apart; the seed words point the wrong way round
POS = [f"It was great . {w}" for w in tiny.WORDS[:20]]
NEG = [f"How far is it ? {w}" for w in tiny.WORDS[:20]]
ROWS = [{"sentence": t, "label": "pos"} for t in POS] + \
    [{"sentence": t, "label": "neg"} for t in NEG]
SEEDS = {"pos": ["terrible"], "neg": ["great"]}


def table(rows):
    return Table("<rows>", list(rows[0]), rows, list(range(2, len(rows) + 2)))


def template(name):
    return "{sentence} It was [MASK]" if tiny.FAMILY_OF[name] == "causal" else \
        "{sentence} It was [MASK] ."


def build(tiny_model_dir, name, kind, labels=SEEDS, options=None, **kw):
    kw.setdefault("methods", [])
    task = tiny.make_task(tiny_model_dir(name), template(name), labels, verbalizer_kind=kind,
                          verbalizer_options=options or {}, **kw)
    return compile_task(task)


def accuracy(model, rows=ROWS):
    return sum(p == r["label"] for p, r in zip(model.predict(rows), rows)) / len(rows)


# ------------------------------------------------------------------------------ auto

@pytest.mark.parametrize("name", ["roberta", "gpt2"])
def test_auto_finds_words_that_separate_the_classes(tiny_model_dir, name):
    model = build(tiny_model_dir, name, "auto", options={"candidates": 200})
    assert accuracy(model) < 0.2                   # the seeds point the wrong way
    seeds = [list(w) for w in model.verbalizer.words]
    prepare_model(model, train=table(ROWS), **QUIET)
    assert accuracy(model) > 0.9
    assert model.verbalizer.words != seeds
    assert all(len(words) == 3 for words in model.verbalizer.words)
    found = model.verbalizer.word_ids[model.verbalizer.word_mask]
    assert found.numel() == 6 and len(set(found.tolist())) == 6   # one label per word


def test_auto_needs_labelled_train_data(tiny_model_dir):
    from promptdsl.errors import DataError
    model = build(tiny_model_dir, "gpt2", "auto")
    with pytest.raises(DataError, match="data.train"):
        prepare_model(model, **QUIET)


def test_auto_words_survive_a_checkpoint(tiny_model_dir, tmp_path):
    from promptdsl.train.checkpoint import load_checkpoint, save_checkpoint
    model = build(tiny_model_dir, "gpt2", "auto", options={"candidates": 200})
    prepare_model(model, train=table(ROWS), **QUIET)
    save_checkpoint(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert torch.equal(loaded.verbalizer.word_ids, model.verbalizer.word_ids)
    assert loaded.predict([r["sentence"] for r in ROWS]) == model.predict(
        [r["sentence"] for r in ROWS])


# ------------------------------------------------------------------------------ proto

@pytest.mark.parametrize("name", ["bert", "llama", "t5"])
def test_proto_scores_by_the_prototypes_of_the_train_rows(tiny_model_dir, name):
    model = build(tiny_model_dir, name, "proto")
    assert accuracy(model) <= 0.5                  # prototypes start at the (wrong) words
    prepare_model(model, train=table(ROWS), **QUIET)
    assert accuracy(model) == 1.0
    # the prototypes are the normalised class means of the mask hidden states
    features = model.encode(table(ROWS), labels=False)
    batch = model.collate(features)
    with torch.no_grad():
        _, hidden = model.read(batch)
    hidden = torch.nn.functional.normalize(hidden.float(), dim=-1)
    expected = torch.nn.functional.normalize(hidden[:len(POS)].mean(0), dim=-1)
    torch.testing.assert_close(model.verbalizer.prototypes[0].detach(), expected,
                               atol=1e-5, rtol=1e-4)
    assert model.verbalizer.prototypes.requires_grad


# ------------------------------------------------------------------------------ soft

@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_soft_verbalizer_starts_as_its_label_words(tiny_model_dir, name):
    """One single-token word per label: the label embeddings are those words' output vectors
    (and biases), read where the LM head reads, so the label distribution equals the manual
    verbalizer's (BERT's head transform and output bias included)."""
    labels = {"0": ["terrible"], "1": ["great"]}
    soft = build(tiny_model_dir, name, "soft", labels)
    manual = build(tiny_model_dir, name, "manual", labels)
    assert soft.verbalizer.word_mask.sum(1).tolist() == [1, 1]
    texts = [r["sentence"] for r in ROWS[:6]]
    torch.testing.assert_close(soft.scores(texts).softmax(-1), manual.scores(texts).softmax(-1),
                               atol=1e-5, rtol=1e-4)


def test_soft_verbalizer_trains(tiny_model_dir):
    model = build(tiny_model_dir, "roberta", "soft")
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert "verbalizer.label_embeddings" in trainable and "verbalizer.label_bias" in trainable
    assert not any(n.startswith("backbone") for n in trainable)
    before = model.verbalizer.label_embeddings.detach().clone()
    batch = model.collate(model.encode(ROWS))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    model.train()
    losses = []
    for _ in range(15):
        loss = model(batch)["loss"]
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0] * 0.5
    assert not torch.equal(model.verbalizer.label_embeddings.detach(), before)
    assert accuracy(model) > 0.9


# ------------------------------------------------------------------------------ knowledgeable

def kpt(tiny_model_dir, tmp_path, words_file, options=None, labels=None):
    (tmp_path / "kb").mkdir(exist_ok=True)
    (tmp_path / "kb" / "words.txt").write_text(words_file)
    return build(tiny_model_dir, "bert", "knowledgeable",
                 labels or {"neg": ["terrible"], "pos": ["great"]},
                 options={"expand": "kb/words.txt", **(options or {})},
                 file=tmp_path / "task.prompt")


def test_knowledgeable_expands_from_a_word_list_next_to_the_prompt_file(tiny_model_dir,
                                                                          tmp_path):
    model = kpt(tiny_model_dir, tmp_path, "bad, awful, poor, zebra\ngood, fine, excellent\n")
    # the tiny WordPiece vocabulary cannot write "zebra": an expansion word is dropped, not fatal
    assert model.verbalizer.words == [["terrible", "bad", "awful", "poor"],
                                      ["great", "good", "fine", "excellent"]]
    plain = build(tiny_model_dir, "bert", "manual", {"neg": ["terrible"], "pos": ["great"]})
    texts = [r["sentence"] for r in ROWS[:8]]
    assert not torch.allclose(model.scores(texts), plain.scores(texts))


def test_knowledgeable_max_words(tiny_model_dir, tmp_path):
    model = kpt(tiny_model_dir, tmp_path, "bad, awful, poor\ngood, fine\n", {"max_words": 2})
    assert model.verbalizer.words == [["terrible", "bad"], ["great", "good"]]


def test_frequency_refinement_drops_the_words_the_model_rarely_predicts(tiny_model_dir,
                                                                          tmp_path):
    model = kpt(tiny_model_dir, tmp_path, "bad, awful, poor, negative\ngood, fine, excellent, "
                "positive\n", {"refine": ["frequency"], "cutoff": 0.5})
    rare = ["awful", "fine"]
    with torch.no_grad():   # make two expansion words (one per label) almost never predicted
        for word in rare:
            flat = [w for words in model.verbalizer.words for w in words]
            token = int(model.verbalizer.word_ids[flat.index(word), 0])
            model.backbone.get_output_embeddings().bias[token] -= 20.0
    prepare_model(model, unlabeled=table(ROWS), **QUIET)
    kept = model.verbalizer.kept_words()
    assert all(word not in kept["neg"] + kept["pos"] for word in rare)
    assert kept["neg"][0] == "terrible" and kept["pos"][0] == "great"   # anchors stay
    assert len(kept["neg"]) == 3 and len(kept["pos"]) == 3              # half the expansion
    # dropped words no longer count: their probability is zero after normalisation
    batch = model.collate(model.encode(ROWS[:4]))
    with torch.no_grad():
        probs = model.verbalizer.word_probabilities(*model.read(batch))
    assert (probs[:, ~model.verbalizer.word_keep] == 0).all()


def test_knowledgeable_word_weights_learn(tiny_model_dir, tmp_path):
    model = kpt(tiny_model_dir, tmp_path, "bad, awful\ngood, fine\n")
    weights = model.verbalizer.label_weights()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    torch.testing.assert_close(weights[0, :3], torch.full((3,), 1 / 3))   # plain mean at start
    batch = model.collate(model.encode(ROWS))
    optimizer = torch.optim.Adam([model.verbalizer.word_weight], lr=0.5)
    for _ in range(5):
        loss = model(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not torch.allclose(model.verbalizer.label_weights()[0, :3], torch.full((3,), 1 / 3))


def test_knowledgeable_without_data_to_refine_on_is_a_clear_error(tiny_model_dir, tmp_path):
    from promptdsl.errors import DataError
    model = kpt(tiny_model_dir, tmp_path, "bad\ngood\n", {"refine": ["relevance"]})
    with pytest.raises(DataError, match="data.unlabeled"):
        prepare_model(model, **QUIET)

"""The prefix cache (promptdsl.model.prefix_cache, backbone_read): on a causal LM the tokens
before a row's first soft token are run once and their key/value states reused. Exactness:
logits, trained soft prompts, teacher-forced losses and sequence scores equal the uncached path
(`train.prefix_cache: false`) on tiny llama and gpt2; the rules of when it may run; the store
(LRU eviction, weights changed in place, shared entries for long common beginnings)."""
from __future__ import annotations

import random

import pytest
import torch
from safetensors.torch import load_file

import tiny
from promptdsl.model import prefix_cache
from promptdsl.model.compile import compile_task
from promptdsl.train.checkpoint import TENSORS
from promptdsl.train.runner import train_task

CAUSAL = ("llama", "gpt2")
ATOL = 1e-5
LONG = " ".join(tiny.SST2_LINES[7:9])          # ~40 tokens
SENTENCES = list(tiny.SST2_LINES) + ["ok", LONG]
ROWS = [{"sentence": s, "a": s, "b": t, "label": "1" if i % 3 else "0"}
        for i, (s, t) in enumerate(zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1]))]


def sharpen(model) -> None:
    """tiny.py's causal models (std 0.02) predict nearly the same whatever the prompt, which
    would hide a wrong key/value state under the tolerance; ×5 makes the input matter."""
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.mul_(5.0)


@pytest.fixture(scope="module")
def sharp_dir(tmp_path_factory):
    """`sharp_dir(name)` -> a saved tiny causal model with sharpened weights (its dropout as
    tiny.py builds it: none for llama, 0.1 for gpt2)."""
    built = {}

    def get(name):
        if name not in built:
            built[name] = tiny.save_tiny_model(name, tmp_path_factory.mktemp(f"sharp-{name}"),
                                               change=sharpen)
        return built[name]
    return get


def build(task: dict, cache: bool):
    task = {**task, "train": {**task["train"], "prefix_cache": cache}}
    torch.manual_seed(0)
    return compile_task(task).eval()


def twins(task: dict) -> tuple:
    """(cached, plain): `task` compiled with `train.prefix_cache` true and false, the same
    trainable tensors in both."""
    cached, plain = build(task, True), build(task, False)
    plain.load_state_dict(cached.state_dict())
    assert cached.cache_plan().enabled, cached.cache_plan().reason
    assert not plain.cache_plan().enabled
    return cached, plain


def stats(model) -> dict:
    return prefix_cache.stats_of(model) or {"hits": 0, "misses": 0, "reused_tokens": 0,
                                             "computed_tokens": 0, "entries": 0}


def batch_of(model, rows) -> dict:
    return model.collate(model.encode(rows, labels=False))


def read_logits(model, rows) -> torch.Tensor:
    with torch.no_grad():
        return model.read(batch_of(model, rows))[0]


def assert_close(got, expected, atol=ATOL):
    torch.testing.assert_close(got, expected, atol=atol, rtol=0)


def named_soft_pieces() -> list:
    """`{sentence} <soft:x> It was <soft:x> [MASK]`: one named soft token used twice."""
    pieces = tiny.pieces_from_text("{sentence} <soft> It was <soft> [MASK]")
    for piece in pieces:
        if piece["type"] == "soft":
            piece["name"] = "x"
    return pieces


# template, methods, pieces, whether rows have a fixed beginning the cache serves
TEMPLATES = {
    "soft-after-text": ("{sentence} <soft*2> It was [MASK]", ["prompt_tuning"], None, True),
    "soft-before-text": ("<soft*2> {sentence} It was [MASK]", ["prompt_tuning"], None, False),
    "no-soft": ("{sentence} It was [MASK]", ["zero_shot"], None, True),
    "two-fields": ("{a} <soft*2> {b} It was [MASK]", ["prompt_tuning"], None, True),
    "named-soft-twice": ("{sentence} <soft:x> It was <soft:x> [MASK]", ["prompt_tuning"],
                         named_soft_pieces(), True),
}


# ---------------------------------------------------------------- 1. logits
@pytest.mark.parametrize("name", CAUSAL)
@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_logits_equal_the_uncached_path(sharp_dir, name, kind):
    template, methods, pieces, served = TEMPLATES[kind]
    cached, plain = twins(tiny.make_task(sharp_dir(name), template, methods=methods,
                                         pieces=pieces))
    if kind == "named-soft-twice":
        assert cached.soft_prompt.n_soft == 1
    # rows 0-2 twice (met, then stored), then 1-4: hits (1, 2) and misses (3, 4) in one batch
    for part in (ROWS[0:3], ROWS[0:3], ROWS[1:5], ROWS[-3:]):
        assert_close(read_logits(cached, part), read_logits(plain, part))
    if served:
        assert stats(cached)["hits"] >= 2 and stats(cached)["reused_tokens"] > 0
    # every row, scored twice with batch sizes that cut the cached rows differently
    expected = plain.scores(ROWS, batch_size=5)
    for size in (3, 4):
        assert_close(cached.scores(ROWS, batch_size=size), expected)
    # the cache changed nothing, yet the logits depend on the input (a wrong prefix shows)
    logits = read_logits(plain, ROWS[:2])
    assert float((logits[0] - logits[1]).abs().max()) > 1e-2


@pytest.mark.parametrize("name", CAUSAL)
def test_truncated_rows_equal_the_uncached_path(sharp_dir, name):
    task = tiny.make_task(sharp_dir(name), "{sentence} <soft*2> It was [MASK]",
                          methods=["prompt_tuning"], train_options={"max_length": 12})
    cached, plain = twins(task)
    assert max(batch_of(plain, ROWS)["attention_mask"].sum(1)) <= 12
    assert_close(read_logits(cached, ROWS), read_logits(plain, ROWS))
    assert_close(cached.scores(ROWS, batch_size=4), plain.scores(ROWS, batch_size=7))
    assert stats(cached)["hits"] > 0


# ---------------------------------------------------------------- 2. training
def spy_on_stores(monkeypatch) -> list:
    """Records (model.training, hits so far, reused tokens so far) at every cached read."""
    calls, real = [], prefix_cache.store_of

    def store_of(model):
        store = real(model)
        calls.append((model.training, store.hits, store.reused_tokens))
        return store
    monkeypatch.setattr(prefix_cache, "store_of", store_of)
    return calls


def train_both(task, tmp_path, monkeypatch) -> tuple:
    """(checkpoint tensors on, off, predictions.tsv on, off) after train_task with the cache
    on and off; asserts that the cache served while training."""
    calls = spy_on_stores(monkeypatch)
    out = {}
    for cache in (True, False):
        run = tmp_path / f"cache-{cache}"
        train_task({**task, "train": {**task["train"], "prefix_cache": cache}}, out=run,
                   progress=False, echo=lambda *_: None)
        tensors = {f"{f.name}:{k}": v for f in sorted((run / "checkpoint").rglob("*.safetensors"))
                   for k, v in load_file(f).items()}
        assert any(k.startswith(TENSORS) for k in tensors)
        out[cache] = (tensors,
                      (run / "predictions.tsv").read_text().splitlines())
        if cache:
            served = [c for c in calls if c[0] and c[1] > 0 and c[2] > 0]
            assert served, "the cache never served a training batch"
            calls.clear()
    assert not calls, "the uncached run used the cache"
    return out[True][0], out[False][0], out[True][1], out[False][1]


def assert_same_run(on, off, predictions_on, predictions_off, untrained: dict):
    assert sorted(on) == sorted(off) and on
    for key in on:
        assert_close(on[key], off[key], atol=1e-4)
    moved = [k for k in on if k.startswith(TENSORS) and
             not torch.allclose(on[k], untrained[k.split(":", 1)[1]], atol=1e-3)]
    assert moved, \
        "training did not move the trained tensors: the comparison would prove nothing"
    assert len(predictions_on) == len(predictions_off) == len(tiny.SST2_ROWS) + 1
    assert predictions_on[0] == predictions_off[0]            # the header
    for a, b in zip(predictions_on[1:], predictions_off[1:]):
        cells_a, cells_b = a.split("\t"), b.split("\t")
        assert cells_a[:3] == cells_b[:3]          # line, gold, prediction
        for x, y in zip(cells_a[3:], cells_b[3:]):
            assert float(x) == pytest.approx(float(y), abs=1e-4)


TRAINED = {   # method list, template, verbalizer kind, learning rate
    "prompt_tuning": ([{"name": "prompt_tuning", "options": {"length": 0}}],
                      "{sentence} <soft*4> It was [MASK]", "manual", 0.3),
    # a method must train for a run to train: prompt_tuning's soft tokens, with the verbalizer's
    "soft-verbalizer": (["prompt_tuning"], "{sentence} <soft*2> It was [MASK]", "soft", 0.03),
    "ptuning": (["ptuning"], "{sentence} <soft*4> It was [MASK]", "manual", 0.03),
}


@pytest.mark.parametrize("kind", list(TRAINED))
def test_training_gives_the_same_run(sharp_dir, write_tsv, tmp_path, monkeypatch, kind):
    methods, template, verbalizer, rate = TRAINED[kind]
    data = write_tsv(tiny.SST2_ROWS)
    task = tiny.make_task(sharp_dir("llama"), template, train=data, test=data, methods=methods,
                          verbalizer_kind=verbalizer,
                          train_options={"epochs": 2, "batch_size": 4, "learning_rate": rate})
    untrained = {k: v.detach().clone() for k, v in build(task, True).trainable_state_dict()
                 .items()}
    assert_same_run(*train_both(task, tmp_path, monkeypatch), untrained=untrained)


# ---------------------------------------------------------------- 3. generation
def test_teacher_forced_loss_and_gradient_equal(sharp_dir):
    task = tiny.gen_task(sharp_dir("llama"), "{mr} <soft*2> Text: [MASK]",
                         methods=["prompt_tuning"])
    cached, plain = twins(task)
    rows = [{"mr": mr, "ref": ref} for mr, ref in tiny.GEN_ROWS]
    results = []
    for model in (cached, plain, cached):      # the second cached pass reads the store
        batch = model.collate(model.encode(rows))
        model.zero_grad()
        loss = model(batch)["loss"]
        loss.backward()
        results.append((loss.detach(), model.soft_prompt.weight.grad.clone()))
    for loss, grad in (results[0], results[2]):
        assert_close(loss, results[1][0])
        assert_close(grad, results[1][1])
    assert float(results[1][1].abs().max()) > 1e-4
    assert stats(cached)["hits"] > 0 and stats(cached)["reused_tokens"] > 0


# ---------------------------------------------------------------- 4. sequence scores
@pytest.mark.parametrize("name", CAUSAL)
def test_sequence_scoring_verbalizer_equal(sharp_dir, name):
    words = {"pos": ["terrible", "very poor"], "neg": ["great"]}   # multi-token words
    task = tiny.make_task(sharp_dir(name), "{sentence} <soft*2> It was [MASK]", words,
                          verbalizer_kind="generation", methods=["prompt_tuning"])
    task["verbalizer"]["options"] = {"calibrate": "none"}
    cached, plain = twins(task)
    # the words' rows filled one by one (not packed into one sequence), which the cache serves
    cached._packs = plain._packs = False
    assert cached.verbalizer.reads_sequences and max(cached.verbalizer.sequences[1]) >= 2
    for part in (ROWS[:3], ROWS[1:6]):
        with torch.no_grad():
            assert_close(cached.word_scores(batch_of(cached, part)),
                         plain.word_scores(batch_of(plain, part)))
    assert_close(cached.scores(ROWS, batch_size=4), plain.scores(ROWS, batch_size=6))
    assert stats(cached)["hits"] > 0


# ---------------------------------------------------------------- 5. rules
OFF = {   # what must not use the cache -> a word its reason names
    "lora": ("llama", [{"name": "lora", "options": {"r": 2, "dropout": 0.0}}], "layers"),
    "adapter": ("llama", [{"name": "adapter", "options": {"reduction": 4}}],
                "method_adapters"),
    "prefix": ("llama", [{"name": "prefix", "options": {"length": 2}}], "method_prefix"),
    "finetune": ("llama", ["finetune"], "trains"),
    "masked-lm": ("bert", ["prompt_tuning"], "masked LM"),
    "seq2seq": ("t5", ["prompt_tuning"], "sequence-to-sequence"),
}


@pytest.mark.parametrize("kind", list(OFF))
def test_the_plan_refuses_what_reaches_every_position(tiny_model_dir, kind):
    name, methods, word = OFF[kind]
    template = "{sentence} <soft*2> It was [MASK]" + (" ." if name == "t5" else "")
    model = compile_task(tiny.make_task(tiny_model_dir(name), template, methods=methods))
    plan = prefix_cache.plan(model)
    assert not plan.enabled and plan.reason and word in plan.reason, plan


@pytest.mark.parametrize("method", ["prompt_tuning", "zero_shot"])
def test_the_plan_allows_a_frozen_backbone_and_its_switches(tiny_model_dir, method):
    task = tiny.make_task(tiny_model_dir("llama"), "{sentence} <soft*2> It was [MASK]",
                          methods=[method])
    model = build(task, True)
    assert prefix_cache.plan(model).enabled and model.cache_plan().enabled
    off = prefix_cache.plan(build(task, False))
    assert not off.enabled and "prefix_cache" in off.reason
    model.block_prefix_cache("x")
    assert prefix_cache.plan(model) == prefix_cache.CachePlan(False, "x")
    before = stats(model)
    read_logits(model, ROWS[:3])
    assert stats(model) == before                 # blocked: the plain path ran


def test_active_dropout_takes_the_plain_path(tiny_model_dir):
    task = tiny.make_task(tiny_model_dir("gpt2"), "{sentence} <soft*2> It was [MASK]",
                          methods=["prompt_tuning"])
    cached, plain = twins(task)
    read_logits(cached, ROWS[:4])                 # eval mode: the cache is filled and used
    before = stats(cached)
    assert before["hits"] + before["misses"] > 0

    def train_forward(model, seed):
        model.train()
        torch.manual_seed(seed)
        with torch.no_grad():
            return model.read(batch_of(model, ROWS[:4]))[0]
    got = train_forward(cached, 1)
    assert stats(cached) == before
    assert_close(got, train_forward(plain, 1))
    assert not torch.allclose(got, train_forward(plain, 2))    # dropout is really active


# ---------------------------------------------------------------- 6. the store
def test_the_store_evicts_the_least_recently_used_entry():
    def entry(tokens):     # [layers, 2, heads, tokens, dim] of float32: 64 bytes a token
        return prefix_cache.Entry(torch.zeros(2, 2, 1, tokens, 4), None, tokens)
    store = prefix_cache.PrefixStore(budget=64 * 10)
    store.put((1,), entry(4))
    store.put((2,), entry(4))
    assert store.get((1,)) is not None           # (1,) is now the most recently used
    store.put((3,), entry(4))                    # over budget: (2,) goes
    assert list(store.entries) == [(1,), (3,)] and store.evictions == 1
    assert store.bytes == 64 * 8 <= store.peak_bytes <= store.budget
    store.put((4,), entry(11))                   # larger than the whole budget: not kept
    assert (4,) not in store.entries and store.bytes == 64 * 8


def random_rows(count: int) -> list:
    """`count` distinct rows of ~45 tokens: 1 MiB (the smallest budget) holds ~4096 tokens of
    tiny llama (256 bytes a token), so 120 rows do not fit."""
    draw = random.Random(0)
    return [{"sentence": " ".join(draw.choices(tiny.WORDS, k=40))} for _ in range(count)]


def kept_alive(store) -> int:
    """Bytes of every key/value tensor the store's entries hold, their parents' included."""
    held = {}
    for entry in store.entries.values():
        while entry is not None:
            held[entry.kv.untyped_storage().data_ptr()] = entry.nbytes
            parent = entry.parent            # an Entry, or the key of one
            entry = store.entries.get(parent) if isinstance(parent, tuple) else parent
    return sum(held.values())


@pytest.fixture
def store_every_row(monkeypatch):
    """Every missing row beginning is stored at its first read, as in training: the store's own
    rules (eviction, budget, changed weights, shared entries) are what these tests look at."""
    monkeypatch.setattr(prefix_cache.PrefixStore, "met", lambda self, key: True)


def test_eviction_under_the_budget_recomputes_and_stays_exact(sharp_dir, store_every_row):
    rows = random_rows(120)
    task = tiny.make_task(sharp_dir("llama"), "{sentence} <soft*2> It was [MASK]",
                          methods=["prompt_tuning"], train_options={"prefix_cache_mb": 1})
    cached, plain = twins(task)
    for start in range(0, len(rows), 20):         # in order: the first rows are evicted
        chunk = rows[start:start + 20]
        assert_close(read_logits(cached, chunk), read_logits(plain, chunk))
    first = stats(cached)
    assert first["evictions"] > 0 and first["misses"] == len(rows) and first["hits"] == 0
    # the latest rows are still there, the first ones are computed again
    for chunk in (rows[-20:], rows[:20]):
        assert_close(read_logits(cached, chunk), read_logits(plain, chunk))
    after = stats(cached)
    assert after["hits"] - first["hits"] == 20 and after["misses"] - first["misses"] == 20
    assert after["computed_tokens"] > first["computed_tokens"]
    store = prefix_cache.store_of(cached)
    assert store.budget == 2 ** 20 and after["bytes"] <= after["peak_bytes"] <= store.budget
    assert_close(cached.scores(rows, batch_size=16), plain.scores(rows, batch_size=16))


def test_the_budget_bounds_what_the_store_keeps_alive(sharp_dir, store_every_row):
    """A shared entry (the common opening) evicted while its rows stay must not leave memory
    the budget no longer counts."""
    task = tiny.make_task(sharp_dir("llama"), "{sentence} <soft*2> It was [MASK]",
                          methods=["prompt_tuning"], train_options={"prefix_cache_mb": 1})
    cached, plain = twins(task)
    opening = " ".join(tiny.SST2_LINES[7:10])     # ~85 tokens shared by these rows
    shared_rows = [{"sentence": f"{opening} {s}"} for s in tiny.SST2_LINES[:6]]
    others = random_rows(120)
    store = prefix_cache.store_of(cached)
    for start in range(0, len(others), 20):      # the opening's rows stay in use meanwhile
        cached.scores(shared_rows, batch_size=8)
        cached.scores(others[start:start + 20], batch_size=8)
        assert kept_alive(store) <= store.budget, (store.stats(), kept_alive(store))
    assert store.evictions > 0
    assert_close(cached.scores(shared_rows), plain.scores(shared_rows))


def add_in_place(weight):
    with torch.no_grad():
        weight.add_(1)


def replace_data(weight):       # what some loaders and weight-tying code do
    weight.data = weight.data + 1


@pytest.mark.parametrize("change", [add_in_place, replace_data], ids=["in-place", "data"])
def test_changed_weights_empty_the_store(sharp_dir, change, store_every_row):
    task = tiny.make_task(sharp_dir("llama"), "{sentence} <soft*2> It was [MASK]",
                          methods=["prompt_tuning"])
    cached, plain = twins(task)
    old = cached.scores(ROWS, batch_size=4)
    assert stats(cached)["entries"] > 0
    for model in (cached, plain):
        change(model.hf_model().model.layers[0].self_attn.k_proj.weight)
    hits = stats(cached)["hits"]
    expected = plain.scores(ROWS, batch_size=4)
    assert_close(cached.scores(ROWS, batch_size=4), expected)
    assert stats(cached)["hits"] == hits            # nothing old was taken from the store
    assert float((old - expected).abs().max()) > 1e-3


def test_a_long_common_beginning_is_one_shared_entry(sharp_dir, store_every_row):
    task = tiny.make_task(sharp_dir("llama"), "{sentence} <soft*2> It was [MASK]",
                          methods=["prompt_tuning"])
    cached, plain = twins(task)
    opening = tiny.SST2_LINES[8]                  # > 20 tokens, the same in every row
    rows = [{"sentence": f"{opening} {s}"} for s in tiny.SST2_LINES[:6]]
    assert_close(read_logits(cached, rows[:4]), read_logits(plain, rows[:4]))
    store = prefix_cache.store_of(cached)
    shared, = store.shared
    assert len(shared) > prefix_cache.SHARED_MIN and len(store.entries) == 4 + 1
    first = [k for k in store.entries if k != shared]
    assert all(k[:len(shared)] == shared for k in first)
    # the opening ran once: each row ran only its own tokens after it
    own = lambda keys: sum(len(k) - len(shared) for k in keys)  # noqa: E731
    assert stats(cached)["computed_tokens"] == len(shared) + own(first)
    # new rows with the same opening start from the stored shared entry
    computed, before = stats(cached)["computed_tokens"], set(store.entries)
    assert_close(read_logits(cached, rows[3:]), read_logits(plain, rows[3:]))
    new = set(store.entries) - before             # rows 4 and 5 (row 3 was a hit)
    assert len(new) == 2 and store.shared == [shared]
    assert stats(cached)["computed_tokens"] - computed == own(new)
    assert_close(cached.scores(rows, batch_size=4), plain.scores(rows, batch_size=3))


def test_rows_laid_out_in_slices_give_the_same_scores_and_gradients(sharp_dir, monkeypatch):
    """A read whose cached beginnings would not fit PAST_BYTES at once runs in slices of rows
    (here one row each); scores and the soft prompt's gradient are those of the plain path."""
    from promptdsl.model import backbone_read
    task = tiny.make_task(sharp_dir("llama"), "{sentence} <soft*3> It was [MASK]",
                          methods=[{"name": "prompt_tuning", "options": {"length": 0}}])
    cached, plain = twins(task)
    calls = []
    original = backbone_read._cached_rows
    monkeypatch.setattr(backbone_read, "PAST_BYTES", 1)
    monkeypatch.setattr(backbone_read, "_cached_rows",
                        lambda model, read: calls.append(read) or original(model, read))
    rows = ROWS[:6]
    for model in (cached, plain):
        model.zero_grad()
        batch = batch_of(model, [{**r} for r in rows])
        batch["labels"] = torch.tensor([int(r["label"]) for r in rows])
        out = model(batch)
        out["loss"].backward()
        model.result = (out["logits"].detach(), model.soft_prompt.weight.grad.clone())
    assert len(calls) >= len(rows) and all(read.input_ids.shape[0] == 1 for read in calls)
    torch.testing.assert_close(cached.result[0], plain.result[0], atol=ATOL, rtol=1e-4)
    torch.testing.assert_close(cached.result[1], plain.result[1], atol=ATOL, rtol=1e-4)


def test_an_evaluation_stores_a_row_from_its_second_read(sharp_dir):
    """Rows met once in an evaluation run whole in one call (nothing stored but their shared
    opening); met again, they are stored; then served. Training stores at once."""
    task = tiny.make_task(sharp_dir("llama"), "{sentence} <soft*2> It was [MASK]",
                          methods=["prompt_tuning"])
    cached, plain = twins(task)
    opening = tiny.SST2_LINES[8]                  # > 16 tokens, the same in every row
    rows = [{"sentence": f"{opening} {s}"} for s in tiny.SST2_LINES[:4]]
    expected = plain.scores(rows)
    store = prefix_cache.store_of(cached)
    assert_close(cached.scores(rows), expected)
    assert list(store.entries) == store.shared and len(store.shared) == 1   # the opening only
    assert_close(cached.scores(rows), expected)
    assert len(store.entries) == 1 + len(rows) and store.hits == 0
    assert_close(cached.scores(rows), expected)
    assert store.hits == len(rows)
    # a row read twice in one evaluation (two models, a mixture's prompts) is stored at once
    other = [{"sentence": tiny.SST2_LINES[5]}] * 2
    before = len(store.entries)
    assert_close(cached.scores(other), plain.scores(other))
    assert len(store.entries) == before + 1
    # a training read stores at its first read
    batch = batch_of(cached, [{"sentence": tiny.SST2_LINES[6]}])
    before = len(store.entries)
    with torch.enable_grad():
        cached.read(batch)
    assert len(store.entries) == before + 1

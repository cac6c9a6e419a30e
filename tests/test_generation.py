"""Generation tasks (a `target`, no verbalizer) on tiny causal and seq2seq models: every method
trains its own parameters on the teacher-forced target loss; decoding is the same with and
without the key/value cache, beamed or batched; teacher forcing puts each target token where
it is predicted; Features keep their targets; stop strings, sampling seeds. Runs, checkpoints
and errors: tests/test_generation_cli.py."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import tiny
from promptdsl.data import read_table
from promptdsl.data.collator import IGNORE, collate
from promptdsl.data.features import Features
from promptdsl.model.compile import compile_task
from promptdsl.model.generation import Decoding, decoding_of, generate_texts
from promptdsl.train.generation import target_loss
from promptdsl.train.splits import EncodedSplit
from promptdsl.train.trainer import Trainer

TEMPLATE = "{mr} Text: [MASK]"
COLUMNS = ("mr", "ref")
MODELS = ("gpt2", "llama", "t5")
INPUTS = [{"mr": mr} for mr, _ in tiny.GEN_ROWS]
CPU = torch.device("cpu")


def sharpen(name: str, model) -> None:
    """Random weights that make the output depend on the input. tiny.py's causal models are
    drawn with std 0.02: two layers 32 wide then predict nearly uniformly whatever the prompt,
    so a soft prompt can hardly move the loss; ×5 (std 0.1) fixes that. T5's embeddings (std
    1) drown the decoder's context: it repeats its last input token (a sentinel, decoded as
    ""); ×0.1 lets the encoder speak."""
    with torch.no_grad():
        if tiny.FAMILY_OF[name] == "causal":
            for p in model.parameters():
                if p.ndim == 2:
                    p.mul_(5.0)
        else:
            model.get_input_embeddings().weight.mul_(0.1)


@pytest.fixture(scope="module")
def gen_model_dir(tmp_path_factory):
    """`gen_model_dir(name)` -> a saved tiny model `name` with sharpened weights (built once
    per module)."""
    built = {}

    def get(name):
        if name not in built:
            built[name] = tiny.save_tiny_model(name, tmp_path_factory.mktemp(f"gen-{name}"),
                                               change=lambda model: sharpen(name, model))
        return built[name]
    return get


@pytest.fixture(scope="module")
def gen_tsv(tmp_path_factory):
    return tiny.write_tsv(tmp_path_factory.mktemp("gen-data"), tiny.GEN_ROWS, COLUMNS,
                          name="gen.tsv")


def compiled(model_dir, methods=("zero_shot",), template=TEMPLATE, seed=0, **kwargs):
    torch.manual_seed(seed)
    return compile_task(tiny.gen_task(model_dir, template, methods=list(methods), **kwargs))


# ---------------------------------------------------------------- 1. every method trains

LORA = {"name": "lora", "options": {"r": 4, "dropout": 0.0}}
PROMPT_TUNING = {"name": "prompt_tuning", "options": {"length": 4}}
# method -> (methods, template, learning rate, what may train: a test on a parameter name)
METHODS = {
    "finetune": ([{"name": "finetune"}], TEMPLATE, 3e-3, None),
    "prompt_tuning": ([PROMPT_TUNING], TEMPLATE, 1.0, lambda n: n == "soft_prompt.weight"),
    "ptuning": ([{"name": "ptuning"}], "<soft*3> " + TEMPLATE, 1.0,
                lambda n: n.startswith("soft_prompt.")),
    "prefix-projection": ([{"name": "prefix", "options": {"length": 4, "hidden": 16}}],
                          TEMPLATE, 3e-2, lambda n: n.startswith("method_prefix.")),
    "prefix-direct": ([{"name": "prefix", "options": {"length": 4, "projection": False}}],
                      TEMPLATE, 0.3, lambda n: n.startswith("method_prefix.")),
    "adapter": ([{"name": "adapter", "options": {"reduction": 4}}], TEMPLATE, 3e-2,
                lambda n: n.startswith("method_adapters.")),
    "lora": ([LORA], TEMPLATE, 3e-2, lambda n: ".lora_" in n),
    "prompt_tuning+lora": ([PROMPT_TUNING, LORA], TEMPLATE, 3e-2,
                           lambda n: n == "soft_prompt.weight" or ".lora_" in n),
}


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_a_generation_task(gen_model_dir, gen_tsv, model_name, method):
    methods, template, lr, intended = METHODS[method]
    train = {"epochs": 20, "batch_size": 6, "learning_rate": lr, "warmup_ratio": 0.0,
             "device": "cpu", "precision": "fp32"}
    task = tiny.gen_task(gen_model_dir(model_name), template, train=gen_tsv, methods=methods,
                         train_options=train, generate={"max_new_tokens": 8})
    torch.manual_seed(0)
    model = compile_task(task)
    trainable = {n for n, p in model.named_parameters(remove_duplicate=False)
                 if p.requires_grad}
    if intended is None:   # finetune: the whole backbone trains
        assert {n for n, _ in model.backbone.named_parameters(prefix="backbone")} <= trainable
    else:                  # (an empty soft-token table stays trainable under every method)
        assert trainable and all(intended(n) for n, p in model.named_parameters()
                                 if p.requires_grad and p.numel()), sorted(trainable)
    state = {n: t.clone() for n, t in model.state_dict(keep_vars=False).items()}
    split = EncodedSplit("train", model, read_table(gen_tsv))
    loss_before = target_loss(model, split.features)
    texts_before = generate_texts(model, split.features)

    Trainer(model, task, CPU, progress=False).train(split)

    loss_after = target_loss(model, split.features)
    # the smallest drop (soft tokens on T5, which reach the decoder through cross-attention
    # only) is about 0.02; finetune, LoRA and prefixes drop by 0.1 to 2.6
    assert loss_after < loss_before - 0.01, (loss_before, loss_after)
    assert generate_texts(model, split.features) != texts_before
    after = model.state_dict()
    changed = {n for n in state if not torch.equal(state[n], after[n])}
    frozen_changed = changed - trainable
    assert not frozen_changed, sorted(frozen_changed)
    if intended is None:
        assert any(n.startswith("backbone.") for n in changed)
    else:
        assert changed and all(intended(n) for n in changed), sorted(changed)


# ---------------------------------------------------------------- 2. cache, beams, batches

CACHED_METHODS = {"prefix": {"length": 4}, "prompt_tuning": {"length": 4},
                  "lora": {"r": 4, "dropout": 0.0}}


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("method", list(CACHED_METHODS))
def test_cache_beams_and_batches_change_nothing(gen_model_dir, model_name, method):
    model = compiled(gen_model_dir(model_name),
                     [{"name": method, "options": CACHED_METHODS[method]}],
                     generate={"max_new_tokens": 8})
    untrained = generate_texts(model, INPUTS)
    torch.manual_seed(1)
    with torch.no_grad():      # trained-looking: every trainable tensor away from its init
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.5)
    greedy = decoding_of(model.task)
    beam = dataclasses.replace(greedy, beams=3)
    texts = generate_texts(model, INPUTS, decoding=greedy, batch_size=4)
    assert texts != untrained and any(texts), texts   # the method acts, the text is not empty
    assert generate_texts(model, INPUTS, decoding=dataclasses.replace(greedy, use_cache=False),
                          batch_size=4) == texts
    beamed = generate_texts(model, INPUTS, decoding=beam, batch_size=4)
    assert generate_texts(model, INPUTS, decoding=dataclasses.replace(beam, use_cache=False),
                          batch_size=4) == beamed
    assert [generate_texts(model, [row], decoding=greedy)[0] for row in INPUTS] == texts
    assert [generate_texts(model, [row], decoding=beam)[0] for row in INPUTS] == beamed


# ---------------------------------------------------------------- 3. teacher forcing

def target_tokens(model, text: str) -> list:
    """The ids a target is trained on, by hand: " text" (gpt2's byte-level BPE marks word
    starts with the space; T5's Metaspace adds it itself) and the end of sequence."""
    tokenizer = model.tokenizer
    ids = tokenizer(" " + text, add_special_tokens=False)["input_ids"]
    return ids + [tokenizer.eos_token_id]


@pytest.mark.parametrize("model_name", ("gpt2", "t5"))
def test_teacher_forcing_is_aligned_and_matches_the_hf_loss(tiny_model_dir, model_name):
    model = compiled(tiny_model_dir(model_name))
    rows = [{"mr": mr, "ref": ref} for mr, ref in tiny.GEN_ROWS[3:5]]  # two prompt lengths
    features = model.encode(rows)
    prompts = model.encode([{"mr": r["mr"]} for r in rows])
    batch = collate(features)
    labels = batch["target_labels"]
    mask = batch["attention_mask"].bool()
    lengths = features.target_lengths
    assert prompts.lengths[0] != prompts.lengths[1] and lengths[0] != lengths[1]
    # row 0 by hand: each target token is the label of the position that precedes it
    gold = target_tokens(model, rows[0]["ref"])
    assert labels[0][labels[0] != IGNORE].tolist() == gold
    if tiny.FAMILY_OF[model_name] == "causal":
        assert mask[:, -1].all() and not mask[:, 0].all()           # padded on the left
        for r in range(2):
            real = batch["input_ids"][r][mask[r]].tolist()
            assert real[:prompts.lengths[r]] == prompts.row(r)["ids"]  # the prompt is intact
            target = real[prompts.lengths[r]:]
            assert len(target) == lengths[r]
            where = (labels[r] != IGNORE).nonzero().flatten()
            # position p predicts the token at p + 1: the last prompt token predicts the first
            assert where.tolist() == list(range(labels.shape[1] - lengths[r] - 1,
                                                labels.shape[1] - 1))
            assert labels[r, where].tolist() == batch["input_ids"][r, where + 1].tolist() \
                == target
        position_ids = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        hf_labels = torch.full_like(labels, IGNORE)
        hf_labels[:, 1:] = labels[:, :-1]          # transformers shifts labels itself
        hf = model.hf_model()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                              position_ids=position_ids, labels=hf_labels)
    else:
        assert mask[:, 0].all() and not mask[:, -1].all()           # padded on the right
        for r in range(2):
            assert batch["input_ids"][r][mask[r]].tolist() == prompts.row(r)["ids"]
        decoder, decoder_mask = batch["decoder_input_ids"], batch["decoder_attention_mask"]
        prefix = features.decoder_input_ids
        assert decoder[:, :len(prefix)].tolist() == [prefix, prefix]
        for r in range(2):
            end = len(prefix) + lengths[r]
            assert decoder_mask[r].tolist() == [1] * end + [0] * (decoder.shape[1] - end)
            # the decoder reads prefix + target; step p predicts the target token at p + 1
            assert decoder[r, len(prefix):end].tolist() == labels[r, len(prefix) - 1:end - 1]\
                .tolist()
            assert (labels[r, end - 1:] == IGNORE).all() and \
                (labels[r, :len(prefix) - 1] == IGNORE).all()
        hf = model.hf_model()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                              decoder_input_ids=decoder, decoder_attention_mask=decoder_mask,
                              labels=labels)
    with torch.no_grad():
        ours = model(batch)
    assert ours["tokens"] == int(lengths.sum())
    torch.testing.assert_close(ours["loss"], hf.loss.detach(), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- 4. Features with targets

def test_features_keep_their_targets_through_select_and_the_cache(tiny_model_dir, gen_tsv,
                                                                   tmp_path, monkeypatch):
    from promptdsl.data import cache
    monkeypatch.setenv("PROMPTDSL_CACHE", str(tmp_path / "cache"))
    model = compiled(tiny_model_dir("gpt2"))
    features = model.encode(read_table(gen_tsv), labels=True)
    assert features.has_targets and len(features) == 6

    def targets(f, i):
        return f.target_ids[f.target_offsets[i]:f.target_offsets[i + 1]].tolist()
    picked = features.select([4, 1, 1])
    assert [targets(picked, i) for i in range(3)] == [targets(features, i) for i in (4, 1, 1)]
    assert [picked.row(i)["ids"] for i in range(3)] == \
        [features.row(i)["ids"] for i in (4, 1, 1)]

    again = Features.from_arrays(*features.to_arrays())
    cache.save("gen-features", features)
    for restored in (again, cache.load("gen-features")):
        assert np.array_equal(restored.target_ids, features.target_ids)
        assert np.array_equal(restored.target_offsets, features.target_offsets)
        assert np.array_equal(restored.ids, features.ids)
    assert not features.without_targets().has_targets and features.has_targets
    # GEN_ROWS: rows 0-1 and 2-3 share their input, 4 and 5 stand alone
    assert features.input_groups() == ([0, 0, 1, 1, 2, 3], [0, 2, 4, 5])
    assert picked.input_groups() == ([0, 1, 1], [0, 1])


# ---------------------------------------------------------------- 5. decoding settings

def test_a_stop_string_cuts_the_text_before_it(gen_model_dir):
    model = compiled(gen_model_dir("llama"), generate={"max_new_tokens": 12})
    free = dataclasses.replace(decoding_of(model.task), stop=())
    texts = generate_texts(model, INPUTS[:1], decoding=free)
    text = texts[0]
    stop = text.strip()[len(text.strip()) // 2:][:2]      # two characters from its middle
    assert len(text.strip()) >= 4 and stop.strip(), text
    cut = generate_texts(model, INPUTS[:1], decoding=dataclasses.replace(free, stop=(stop,)))
    assert cut == [text[:text.find(stop)].strip()]
    assert generate_texts(model, INPUTS[:1], decoding=dataclasses.replace(
        free, stop=("no such text",))) == texts


def test_stop_answers_follow_the_tokenizer_not_its_id():
    """Whether generate() may watch a stop string is asked once per tokenizer, and the answer
    belongs to that tokenizer object: every tokenizer gets its own (T5's vocabulary cannot make
    a line break; gpt2's can, or generate() raises ValueError on the T5 model), and a freed
    tokenizer's answer goes with it, so one later allocated at its address cannot inherit it.
    (Waiting for the allocator to reuse an address made this test depend on luck.)"""
    import copy
    import gc
    from promptdsl.model.generation import _STOPPABLE, _stoppable
    gpt2, t5 = tiny.build_tokenizer("gpt2"), tiny.build_tokenizer("t5")
    assert _stoppable(gpt2, ("\n",)) and not _stoppable(t5, ("\n",))
    assert _stoppable(copy.copy(gpt2), ("\n",)) and not _stoppable(copy.copy(t5), ("\n",))
    freed = copy.copy(gpt2)
    assert _stoppable(freed, ("\n",)) and freed in _STOPPABLE
    held = len(_STOPPABLE)
    del freed
    gc.collect()
    assert len(_STOPPABLE) == held - 1      # its answer left with it
    assert gpt2 in _STOPPABLE and t5 in _STOPPABLE


def test_the_default_stop_is_a_line_break_unless_the_target_has_one(tiny_model_dir):
    model_dir = tiny_model_dir("gpt2")
    assert decoding_of(tiny.gen_task(model_dir)).stop == ("\n",)
    assert decoding_of(tiny.gen_task(model_dir, target="{ref}\nend")).stop == ()
    assert decoding_of(tiny.gen_task(model_dir, generate={"stop": ["###"]})).stop == ("###",)
    assert decoding_of(tiny.gen_task(model_dir, train_options={"seed": 7})) == \
        Decoding(max_new_tokens=32, stop=("\n",), seed=7)


def test_sampling_repeats_with_its_seed_and_leaves_the_random_state(gen_model_dir):
    model = compiled(gen_model_dir("gpt2"), generate={"max_new_tokens": 12})
    sample = dataclasses.replace(decoding_of(model.task), do_sample=True, temperature=2.0,
                                 stop=())
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = generate_texts(model, INPUTS, decoding=sample)
    assert torch.equal(torch.get_rng_state(), state)
    assert generate_texts(model, INPUTS, decoding=sample) == first
    other = generate_texts(model, INPUTS, decoding=dataclasses.replace(sample, seed=1))
    assert other != first
    greedy = generate_texts(model, INPUTS, decoding=dataclasses.replace(sample,
                                                                         do_sample=False))
    assert first != greedy
    assert torch.equal(torch.get_rng_state(), state)

"""Collate (dynamic padding per family), bucketed batching, restore_order."""
import numpy as np
import pytest
import torch

import tiny
from promptdsl.data import (Renderer, collate, eval_batches, padding_waste, restore_order,
                            train_batches)

ROWS = [{"sentence": s, "label": l} for s, l in tiny.SST2_ROWS]


_TOKENIZERS = {}


def features(name, template="{sentence} It was [MASK]"):
    if name not in _TOKENIZERS:
        _TOKENIZERS[name] = tiny.build_tokenizer(name)
    tokenizer = _TOKENIZERS[name]
    renderer = Renderer(tokenizer, tiny.pieces_from_text(template), tiny.FAMILY_OF[name],
                        labels=["0", "1"], label_column="label")
    return tokenizer, renderer.encode(ROWS)


def test_right_padding_for_mlm():
    tokenizer, f = features("bert", "<soft*2> {sentence} It was [MASK] .")
    batch = collate(f, [0, 1])
    lengths = f.lengths[[0, 1]]
    assert batch["input_ids"].shape == (2, lengths.max())
    short = int(np.argmin(lengths))
    width = lengths.max()
    assert batch["attention_mask"][short].tolist() == \
        [1] * lengths[short] + [0] * (width - lengths[short])
    assert (batch["input_ids"][short, lengths[short]:] == tokenizer.pad_token_id).all()
    assert (batch["soft_ids"][short, lengths[short]:] == -1).all()
    assert batch["soft_ids"][0, 1:3].tolist() == [0, 1]
    for b in range(2):
        assert batch["input_ids"][b, batch["mask_pos"][b]] == tokenizer.mask_token_id
    assert batch["labels"].tolist() == [0, 0]


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_left_padding_for_causal_reads_last_position(name):
    tokenizer, f = features(name)
    batch = collate(f, [0, 1, 2])
    width = batch["input_ids"].shape[1]
    assert (batch["mask_pos"] == width - 1).all()
    assert (batch["attention_mask"][:, -1] == 1).all()
    short = int(np.argmin(f.lengths[[0, 1, 2]]))
    pad = width - f.lengths[short]
    assert pad > 0 and (batch["attention_mask"][short, :pad] == 0).all()
    assert batch["input_ids"][short, pad:].tolist() == f.row(short)["ids"]


def test_seq2seq_decoder_inputs():
    tokenizer, f = features("t5", "{sentence} It was [MASK] .")
    batch = collate(f, [3, 4])
    sentinel = tokenizer.convert_tokens_to_ids("<extra_id_0>")
    assert batch["decoder_input_ids"].tolist() == [[tokenizer.pad_token_id, sentinel]] * 2
    assert batch["mask_pos"].tolist() == [1, 1]
    assert batch["input_ids"].dtype == torch.long


def test_select_then_collate_equals_collate_with_indices():
    _, f = features("roberta")
    a, b = collate(f, [5, 2, 7]), collate(f.select([5, 2, 7]))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_batches_are_a_seeded_permutation_with_low_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 60, size=5000)
    batches = train_batches(lengths, 32, seed=1)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(5000))
    assert batches == train_batches(lengths, 32, seed=1)
    assert batches != train_batches(lengths, 32, seed=2)
    assert batches != train_batches(lengths, 32, seed=1, epoch=1)

    class F:  # padding_waste needs only lengths
        pass
    f = F()
    f.lengths = lengths
    random_order = [list(range(i, min(i + 32, 5000))) for i in range(0, 5000, 32)]
    assert padding_waste(f, batches) < 0.1 < padding_waste(f, random_order)


def test_eval_batches_sorted_and_restore_order():
    lengths = [3, 9, 1, 7, 5]
    batches = eval_batches(lengths, 2)
    assert batches == [[1, 3], [4, 0], [2]]
    outputs = [lengths[i] * 10 for b in batches for i in b]
    assert restore_order(batches, outputs) == [30, 90, 10, 70, 50]


@pytest.mark.parametrize("name", tiny.MODEL_NAMES)
def test_collate_many_equals_collate_per_batch(name):
    from promptdsl.data import collate_many
    template = "{sentence} It was [MASK]" if tiny.FAMILY_OF[name] == "causal" else \
        "<soft*2> {sentence} It was [MASK] ."
    _, f = features(name, template)
    batches = [[3, 1, 4], [0], [9, 2, 6, 5], [8, 7]]
    many = collate_many(f, batches)
    assert len(many) == len(batches)
    for got, b in zip(many, batches):
        want = collate(f, b)
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want), name


def test_prompt_dataset_yields_every_row_once_per_epoch():
    from promptdsl.data import PromptDataset
    _, f = features("bert", "{sentence} [MASK]")
    dataset = PromptDataset(f, chunk=2)
    seen = []
    for indices, batch in dataset.train_batches(batch_size=3, seed=5):
        assert batch["input_ids"].shape[0] == len(indices)
        assert batch["labels"].tolist() == f.labels[indices].tolist()
        seen.extend(indices)
    assert sorted(seen) == list(range(len(f)))
    order = [i for indices, _ in dataset.eval_batches(4) for i in indices]
    assert sorted(order) == list(range(len(f)))

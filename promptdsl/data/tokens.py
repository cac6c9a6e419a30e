"""What the data path needs to know about a tokenizer, found by probing it (no model lists):
whether a leading space changes a word's tokens, which special tokens it wraps a text in, and
the ids of its mask / separator / class / sentinel tokens."""
from __future__ import annotations

import gc
from itertools import chain

import numpy as np

from .. import families
from ..errors import ModelError

PROBE = "a"


def token_ids(tokenizer, texts: list) -> list:
    """Token ids of each text, no special tokens: one batched call to the tokenizer.

    A fast tokenizer's Rust backend is called directly (`encode_batch_fast`: no offsets, no
    per-text Python objects beyond the ids): twice as fast as going through `__call__`, and
    silent about texts longer than the model (truncation is ours to do)."""
    if not texts:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    encode = getattr(backend, "encode_batch_fast", None) or getattr(backend, "encode_batch", None)
    if encode is not None:
        # tens of thousands of fresh lists, none in a cycle: collecting meanwhile is wasted time
        collecting = gc.isenabled()
        gc.disable()
        try:
            return [e.ids for e in encode(list(texts), add_special_tokens=False)]
        finally:
            if collecting:
                gc.enable()
    return tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False,
                     return_token_type_ids=False)["input_ids"]


def token_ids_flat(tokenizer, texts: list) -> tuple:
    """(flat int64 array of all ids, int64 array of per-text lengths)."""
    ids = token_ids(tokenizer, texts)
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def leading_space_matters(tokenizer) -> bool:
    """True for tokenizers where " word" is a different single token from "word" (byte-level
    BPE: GPT-2, RoBERTa, Llama-3, SmolLM2). WordPiece and SentencePiece tokenizers mark word
    starts themselves; adding a space there would at best change nothing, at worst add a stray
    "▁" token."""
    plain, spaced = token_ids(tokenizer, [PROBE, " " + PROBE])
    return len(plain) == len(spaced) and plain != spaced


def special_frame(tokenizer) -> tuple:
    """(prefix ids, suffix ids) the tokenizer adds around one text (BERT: [CLS] / [SEP];
    RoBERTa: <s> / </s>; Llama: <s> / -; T5: - / </s>; GPT-2: - / -)."""
    plain = token_ids(tokenizer, [PROBE])[0]
    full = tokenizer([PROBE], add_special_tokens=True, return_attention_mask=False,
                     return_token_type_ids=False)["input_ids"][0]
    n = len(plain)
    for start in range(len(full) - n + 1):
        if full[start:start + n] == plain:
            return list(full[:start]), list(full[start + n:])
    return [], []


def known_token_id(tokenizer, token: str | None) -> int | None:
    """The id of `token` if the vocabulary has it (convert_tokens_to_ids returns unk otherwise)."""
    if not token:
        return None
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or (tid == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return int(tid)


def special_id(tokenizer, which: str) -> int:
    """The id behind a template's [SEP] / [CLS]: the tokenizer's own sep / cls token, else its
    eos / bos (causal models have no separator of their own)."""
    order = {"sep": ("sep_token_id", "eos_token_id"), "cls": ("cls_token_id", "bos_token_id")}
    if which not in order:
        raise ModelError(f"unknown special token [{which.upper()}]; known: [SEP], [CLS]")
    for attr in order[which]:
        tid = getattr(tokenizer, attr, None)
        if tid is not None:
            return int(tid)
    raise ModelError(f"the tokenizer has no token for [{which.upper()}] (neither "
                     f"{' nor '.join(a[:-3] for a in order[which])})")


def mask_ids(tokenizer, family, count: int) -> list:
    """The input token of each of `count` masks for `family` (a name or a Family): none when
    the family's mask is not in the input (causal); else the mask token, or for families with
    sentinels (T5-style seq2seq) <extra_id_0>, <extra_id_1>, … when there is no mask token."""
    family = families.get(family)
    if not family.mask_in_input:
        return []
    mask = tokenizer.mask_token_id if getattr(tokenizer, "mask_token", None) else None
    if mask is not None:
        return [int(mask)] * count
    if family.sentinels:
        sentinels = [known_token_id(tokenizer, f"<extra_id_{i}>") for i in range(count)]
        if all(s is not None for s in sentinels):
            return sentinels
        raise ModelError("the tokenizer has neither a mask token nor <extra_id_N> sentinels "
                         "to mark [MASK] in the encoder input")
    raise ModelError(f"the tokenizer has no mask token, so a {family.title} cannot read [MASK]")


def pad_id(tokenizer) -> int:
    """The padding id: the tokenizer's pad token, else eos (GPT-2 has no pad), else 0. Padded
    positions are masked out by attention_mask, so any id works."""
    for attr in ("pad_token_id", "eos_token_id"):
        tid = getattr(tokenizer, attr, None)
        if tid is not None:
            return int(tid)
    return 0


def label_word_ids(tokenizer, words: list, mask_space: bool) -> list:
    """Token ids of each label word as the model predicts it at the mask: with a leading space
    when the template has whitespace before [MASK] and the tokenizer cares (see
    `leading_space_matters`). One tokenizer call."""
    space = " " if mask_space and leading_space_matters(tokenizer) else ""
    return token_ids(tokenizer, [space + w.strip() for w in words])

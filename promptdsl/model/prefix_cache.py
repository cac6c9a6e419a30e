"""Prefix caching on causal LMs: the positions before a row's first trainable piece, run once.

On a causal LM a position only sees the positions before it. When nothing trainable reaches the
backbone except the soft tokens (prompt tuning, P-tuning with a frozen model, soft or
calibrated verbalizers, zero-shot, in-context demonstrations), the key/value states of a row's
tokens before its first soft token (or before the position that is read, when it has none) are
the same in every epoch, for every seed and every prompt that shares that text. They are
computed once, without gradients, kept here (least recently used first out, within a byte
budget), and every later forward runs only the rest of the row against them
(`promptdsl.model.backbone_read`).

`plan(model)` says whether a model may use the cache, and if not why: it is structural, read
from the built model, so a third party's method is judged like a built-in. A method that changes
what the backbone computes without putting a parameter in the model (a forward hook holding
constants) says so with `model.block_prefix_cache(reason)`.

Rows that share a beginning longer than `SHARED_MIN` tokens (fixed in-context demonstrations, a
long instruction) share one entry for it: a row's entry holds its own tokens and points at the
shared one.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

MAX_MET = 1 << 20         # row beginnings remembered as read once (hashes only)
SHARED_MIN = 16           # tokens a batch's rows must share before they get one entry for them
ATTENTION = ("sdpa", "eager")   # implementations whose masks may have holes (left-padded cache)
OWN_PARTS = ("soft_prompt", "verbalizer", "prompt_set")   # read-side modules of a PromptModel


@dataclass
class CachePlan:
    enabled: bool
    reason: str = ""        # why not (empty when enabled)


def train_option(task: dict, name: str):
    """`train.<name>`, the schema's default for a task saved before the option existed."""
    from ..ir.schema import TRAIN
    return task["train"].get(name, TRAIN["properties"][name]["default"])


def pristine_names(backbone) -> frozenset:
    """The parameter names of the backbone as loaded, recorded once on the backbone: a method
    that wraps or extends it (LoRA, adapters) changes them."""
    names = getattr(backbone, "_promptdsl_pristine", None)
    if names is None:
        names = frozenset(name for name, _ in backbone.named_parameters())
        backbone._promptdsl_pristine = names
    return names


def plan(model) -> CachePlan:
    """Whether `model`'s forward passes may take the fixed part of each row from the cache."""
    rules = model.family_rules
    call = _call_problem(model)
    if not rules.reads_next_token or rules.has_decoder:
        return CachePlan(False, call)
    if not train_option(model.task, "prefix_cache"):
        return CachePlan(False, "train.prefix_cache is false")
    if call:
        return CachePlan(False, call)
    backbone = model.backbone
    names = {name for name, _ in backbone.named_parameters()}
    if names != pristine_names(backbone):
        return CachePlan(False, "a method changed the backbone's layers (LoRA, adapters …)")
    if any(p.requires_grad for p in backbone.parameters()):
        return CachePlan(False, "the backbone trains, so every position changes")
    for name, child in model.named_children():
        if name not in OWN_PARTS and name != "backbone" and \
                any(True for _ in child.parameters()):
            return CachePlan(False, f"method module `{name}` may reach every position")
    layout = _layout_problem(model.hf_model().config)
    return CachePlan(False, layout) if layout else CachePlan(True)


def runs_after_past(model) -> bool:
    """Whether a read may give the beginning of its rows as key/value states computed apart
    (a causal LM whose backbone call no method edits, with attention that takes a left-padded
    past): what the cache, and candidates sharing their prompt, need."""
    return _call_problem(model) is None and _layout_problem(model.hf_model().config) is None


def _call_problem(model) -> str | None:
    """Why the backbone call cannot be split into a past and the rest: the family reads both
    sides, or a method edits the call (its arguments, or a hook holding constants)."""
    rules = model.family_rules
    if not rules.reads_next_token or rules.has_decoder:
        return f"a {rules.title} sees both sides of every position"
    blocked = getattr(model, "prefix_cache_blockers", None)
    if blocked:
        return blocked[0]
    if model.backbone_kwargs_hooks:
        return "a method adds arguments to every backbone call"
    return None


def _layout_problem(config) -> str | None:
    """Why the model's attention cannot take a left-padded past laid out by rows."""
    if not plain_layers(config):
        return ("the model has sliding-window or other special attention layers, whose caches "
                "keep only part of a row")
    implementation = getattr(config, "_attn_implementation", None)
    if implementation not in ATTENTION:
        return (f"attention implementation `{implementation}` (cached rows need one of "
                f"{', '.join(ATTENTION)})")
    return None


def plain_layers(config) -> bool:
    """Whether every layer of the model's cache keeps all its keys and values (no sliding
    window, no linear attention): what laying cached rows out as a past needs."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer
    return all(type(layer) is DynamicLayer for layer in DynamicCache(config=config).layers)


def deterministic(backbone) -> bool:
    """False while dropout is active in the backbone: a cached prefix would differ from a run."""
    return not backbone.training or not has_dropout(backbone)


def has_dropout(backbone) -> bool:
    """Whether the backbone drops anything in training mode (dropout modules or attention
    dropout in its config)."""
    config = getattr(backbone, "config", None)
    if float(getattr(config, "attention_dropout", 0.0) or 0.0) > 0:
        return True
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in backbone.modules())


@dataclass
class Entry:
    kv: torch.Tensor             # [layers, 2, heads, tokens, head_dim]: this entry's own tokens
    parent: "Entry | None" = None  # the shared entry before them
    length: int = 0              # tokens in all (parent's + own)
    parent_key: tuple | None = None

    @property
    def nbytes(self) -> int:
        return self.kv.numel() * self.kv.element_size()


@dataclass
class PrefixStore:
    """Entries by token-id tuple, least recently used evicted past `budget` bytes."""
    budget: int
    entries: OrderedDict = field(default_factory=OrderedDict)
    shared: list = field(default_factory=list)    # keys of entries several rows point at
    bytes: int = 0
    peak_bytes: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    computed_tokens: int = 0     # tokens run to fill the cache
    reused_tokens: int = 0       # tokens taken from it instead of being run again
    fingerprint: int | None = None
    _met: set = field(default_factory=set)    # hashes of row beginnings read once so far

    def met(self, key: tuple) -> bool:
        return hash(key) in self._met

    def meet(self, key: tuple) -> None:
        if len(self._met) > MAX_MET:
            self._met.clear()
        self._met.add(hash(key))

    def get(self, key: tuple) -> Entry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            self._refresh_parent(entry)
        return entry

    def _refresh_parent(self, entry: Entry) -> None:
        # a shared entry stays more recent than its rows, so it leaves last and its tensor
        # is never held by rows alone, outside the budget
        if entry.parent_key is not None and entry.parent_key in self.entries:
            self.entries.move_to_end(entry.parent_key)

    def put(self, key: tuple, entry: Entry, shared: bool = False) -> None:
        if entry.nbytes > self.budget:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes
        self.entries[key] = entry
        self.bytes += entry.nbytes
        self._refresh_parent(entry)
        if shared and key not in self.shared:
            self.shared.append(key)
        while self.bytes > self.budget:
            dropped_key, dropped = self.entries.popitem(last=False)
            self.bytes -= dropped.nbytes
            self.evictions += 1
            if dropped_key in self.shared:
                self.shared.remove(dropped_key)
        self.peak_bytes = max(self.peak_bytes, self.bytes)

    def clear(self) -> None:
        self.entries.clear()
        self.shared.clear()
        self._met.clear()
        self.bytes = 0

    def stats(self) -> dict:
        return {"entries": len(self.entries), "bytes": self.bytes, "peak_bytes": self.peak_bytes,
                "budget_bytes": self.budget, "hits": self.hits, "misses": self.misses,
                "evictions": self.evictions, "computed_tokens": self.computed_tokens,
                "reused_tokens": self.reused_tokens}


def store_of(model) -> PrefixStore:
    """The backbone's store (models sharing one backbone share it), emptied when the backbone's
    weights were modified in place since it was filled."""
    backbone = model.backbone
    store = getattr(backbone, "_promptdsl_prefix_store", None)
    budget = int(train_option(model.task, "prefix_cache_mb")) * 2 ** 20
    if store is None:
        store = PrefixStore(budget)
        backbone._promptdsl_prefix_store = store
    store.budget = max(store.budget, budget)
    # torch counts in-place writes per tensor, and a replaced tensor has another address:
    # either means changed weights
    fingerprint = hash(tuple((p.data_ptr(), p._version) for p in backbone.parameters()))
    if store.fingerprint != fingerprint:
        store.clear()
        store.fingerprint = fingerprint
    return store


def stats_of(model) -> dict | None:
    """The cache's counters for a run's summary (None when the model never used it)."""
    store = getattr(model.backbone, "_promptdsl_prefix_store", None)
    return None if store is None else store.stats()

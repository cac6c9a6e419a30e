"""One backbone call that reads chosen positions: `run_read(model, read)`.

A `Read` is what `PromptModel.read_at` asks of the backbone: its keyword arguments (input
embeddings, masks, positions), the token ids, how many leading tokens of each row are fixed
(no trainable piece reaches them; see `promptdsl.model.prefix_cache`) and the (row, position)
pairs whose logits and hidden states are wanted. Reads of several PromptModels over one backbone
(a batched sweep, several checkpoints) are joined with `merge` and run as one.

The cached path (causal LMs, `prefix_cache.plan`): the fixed tokens' key/value states come from
the store (computed there once, without gradients), laid out left-padded as a transformers
cache; only the last columns of the batch — every row's own rest — run, with the row's true
position ids and an attention mask that hides the columns the cache already holds. The logits
equal the plain path's within float tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import prefix_cache
from .prefix_cache import SHARED_MIN, Entry

MIN_FIXED = 2     # a row beginning shorter than this (a lone BOS) is not worth a cache lookup
PAST_BYTES = 256 * 2 ** 20    # cached beginnings laid out for one backbone call at most


@dataclass
class Read:
    kwargs: dict                 # backbone keyword arguments (inputs_embeds, attention_mask, …)
    input_ids: torch.Tensor      # [B, T]
    fixed: torch.Tensor | None   # [B] leading real tokens no trainable piece reaches (None: 0)
    rows: torch.Tensor           # [N] the pairs to read
    positions: torch.Tensor      # [N]
    # (group [B], length [G]): rows of a group begin with the same `length` real tokens
    heads: tuple | None = None


def run_read(model, read: Read) -> tuple:
    """(logits [N, V], hidden [N, H]) at the read's (row, position) pairs."""
    stored = read.fixed is not None and read.fixed.numel() and \
        int(read.fixed.max()) >= MIN_FIXED and prefix_cache.deterministic(model.backbone) and \
        model.cache_plan().enabled
    if stored:      # kept across batches and epochs, and shared by a read's repeated rows
        return _cached(model, read)
    if read.heads is not None and int(read.heads[1].max()) >= MIN_FIXED and \
            prefix_cache.runs_after_past(model):
        return _shared_heads(model, read)
    return _project(model, read.kwargs, read.rows, read.positions)


def _project(model, kwargs: dict, rows, positions) -> tuple:
    """The backbone over `kwargs`, the LM head on the chosen positions only."""
    module = model._read_module()
    if module is None:  # no separate base model: project everything, then pick
        out = model.backbone(**kwargs, output_hidden_states=True)
        hidden = model.family_rules.last_hidden_state(out)
        return out.logits[rows, positions], hidden[rows, positions]
    picked = {}

    def pick(hidden):
        picked["hidden"] = hidden[rows.to(hidden.device), positions.to(hidden.device)]
        return picked["hidden"].unsqueeze(1)

    def cut_to_read_position(_module, _args, output):
        if isinstance(output, tuple):
            return (pick(output[0]),) + tuple(output[1:])
        output["last_hidden_state"] = pick(output[0])
        return output

    def cut_head_input(_module, args):
        # for heads that bypass the base model's forward (OPT calls its decoder directly)
        if "hidden" in picked or not args or args[0].dim() != 3:
            return None
        return (pick(args[0]),) + tuple(args[1:])

    handles = [module.register_forward_hook(cut_to_read_position)]
    head = model.hf_model().get_output_embeddings()
    if head is not None:
        handles.append(head.register_forward_pre_hook(cut_head_input))
    try:
        out = model.backbone(**kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return out.logits[:, -1], picked["hidden"]


# ---------------------------------------------------------------- the cached path
def _cached(model, read: Read) -> tuple:
    """The cached path, in slices of rows whose laid-out past fits PAST_BYTES (a joined read
    of many models, or a mixture's K copies of each row, would otherwise lay out the same
    beginnings many times over at once)."""
    per_row = _past_bytes_per_row(model, read)
    step = max(1, PAST_BYTES // max(1, per_row))
    return _in_slices(read, step, lambda part, start, stop: _cached_rows(model, part))


def _in_slices(read: Read, step: int, run) -> tuple:
    """`run(part, start, stop)` over the read's rows in slices of `step` (the whole read when
    it fits), the pairs' logits and hidden states put back in the read's order."""
    rows = read.input_ids.shape[0]
    if rows <= step:
        return run(read, 0, rows)
    logits = hidden = None
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        pairs = ((read.rows >= start) & (read.rows < stop)).nonzero().flatten()
        if not len(pairs):
            continue
        part_logits, part_hidden = run(_slice(read, start, stop, pairs), start, stop)
        if logits is None:
            logits = part_logits.new_empty((len(read.rows), part_logits.shape[1]))
            hidden = part_hidden.new_empty((len(read.rows), part_hidden.shape[1]))
        logits = logits.index_copy(0, pairs.to(logits.device), part_logits)
        hidden = hidden.index_copy(0, pairs.to(hidden.device), part_hidden)
    return logits, hidden


def _past_bytes_per_row(model, read: Read) -> int:
    return int(read.fixed.max()) * _kv_bytes_per_token(model)


def _kv_bytes_per_token(model) -> int:
    """Bytes of one token's keys and values over all layers (from the model's config)."""
    config = model.hf_model().config.get_text_config(decoder=True)
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    size = model.backbone.get_input_embeddings().weight.element_size()
    return config.num_hidden_layers * 2 * heads * dim * size


def _slice(read: Read, start: int, stop: int, pairs: torch.Tensor) -> Read:
    """The read of rows start … stop-1 and of the pairs `pairs` (which fall in them)."""
    rows = read.input_ids.shape[0]
    kwargs = {k: (v[start:stop] if isinstance(v, torch.Tensor) and v.dim() and
                  v.shape[0] == rows else v) for k, v in read.kwargs.items()}
    return Read(kwargs, read.input_ids[start:stop], read.fixed[start:stop],
                read.rows[pairs] - start, read.positions[pairs])


def _cached_rows(model, read: Read) -> tuple:
    kwargs, ids = read.kwargs, read.input_ids
    mask = kwargs["attention_mask"]
    lengths = mask.sum(1)
    width = ids.shape[1]
    fixed = read.fixed.to(lengths.device).clamp(min=0)
    fixed = torch.minimum(fixed, lengths - 1).clamp(min=0)
    starts = width - lengths                      # left padding: the first real column
    keys = [tuple(ids[b, int(starts[b]):int(starts[b] + fixed[b])].tolist())
            for b in range(ids.shape[0])]
    store = prefix_cache.store_of(model)
    entries, used, hits = _entries(model, store, keys, torch.is_grad_enabled())
    if not any(used):           # nothing to take from the cache: one plain call
        return _project(model, kwargs, read.rows, read.positions)
    past, past_mask = _layout(entries, used)
    store.reused_tokens += sum(n for k, n in zip(keys, used) if k in hits)
    return _after_past(model, read, past, past_mask, torch.tensor(used, device=lengths.device))


def _after_past(model, read: Read, past, past_mask, used) -> tuple:
    """The read with each row's first `used` real tokens given as `past` (their key/value
    states, left-padded, `past_mask`): only the last columns, every row's rest, run."""
    kwargs, mask = read.kwargs, read.kwargs["attention_mask"]
    lengths, width = mask.sum(1), mask.shape[1]
    # the suffix window: the last columns holding every row's own rest
    rest = lengths - used
    window = int(rest.max())
    cut = width - window
    cols = torch.arange(window, device=mask.device)
    own = cols[None, :] >= (window - rest)[:, None]
    suffix = dict(kwargs)
    suffix["inputs_embeds"] = kwargs["inputs_embeds"][:, cut:]
    suffix["position_ids"] = kwargs["position_ids"][:, cut:]
    suffix["attention_mask"] = torch.cat([past_mask.to(mask.dtype),
                                          (mask[:, cut:].bool() & own).to(mask.dtype)], 1)
    suffix["cache"] = _as_cache(past, model)
    suffix["use_cache"] = True
    return _project(model, suffix, read.rows, read.positions - cut)


# ---------------------------------------------------------------- candidates of one prompt
def _shared_heads(model, read: Read) -> tuple:
    """Rows that begin alike (a prompt's candidates) run their common beginning once per
    group, with gradients (soft tokens, LoRA … train through it), then each row its rest."""
    group, head = read.heads
    kwargs = read.kwargs
    mask = kwargs["attention_mask"]
    rows, width = mask.shape
    device = mask.device
    group, head = group.to(device), head.to(device)
    starts = width - mask.sum(1)
    first = torch.full((len(head),), rows, device=device, dtype=torch.long).scatter_reduce(
        0, group, torch.arange(rows, device=device), "amin")
    span = int(head.max())
    cols = torch.arange(span, device=device)
    valid = cols[None, :] >= (span - head)[:, None]                  # [G, span] right-aligned
    source = (starts[first][:, None] + head[:, None] - span + cols[None, :]).clamp(min=0)
    embeds = kwargs["inputs_embeds"][first[:, None], source]
    head_mask = valid.long()
    cache = _as_cache(None, model)
    base_model = model._read_module() or model.backbone
    base_model(inputs_embeds=embeds, attention_mask=head_mask,
               position_ids=(head_mask.cumsum(1) - 1).clamp(min=0), cache=cache, use_cache=True)
    past = torch.stack([torch.stack([k, v]) for k, v in _layers(cache)])  # [L, 2, G, h, span, d]
    # each row gets its group's past laid out: in slices of PAST_BYTES (19 classes of a batch
    # of 32 rows would lay out the same beginnings 608 times at once)
    step = max(1, PAST_BYTES // max(1, span * _kv_bytes_per_token(model)))

    def run(part, start, stop):
        members = group[start:stop]
        return _after_past(model, part, past.index_select(2, members), head_mask[members],
                           head[members])
    return _in_slices(read, step, run)


def _entries(model, store, keys: list, training: bool) -> tuple:
    """(an entry per row or None, how many of its tokens it gives, the keys the store had).

    A missing row beginning is computed and stored when it will be read again: in training
    (every epoch), when the read holds it more than once (several models or prompts), or
    when it was met before. A beginning met for the first time in an evaluation is not:
    the row runs whole in one call (two calls, one to store what is never read again, would
    cost more than none), after the shared beginning it starts with (fixed demonstrations),
    which is stored."""
    counts: dict = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    found = {}
    for key in counts:
        if not key:
            continue
        entry = store.get(key)
        if entry is None:
            store.misses += 1
        else:
            store.hits += 1
            found[key] = entry
    hits = set(found)
    missing = [k for k in counts if k and k not in found]
    kept = [k for k in missing if training or counts[k] > 1 or store.met(k)]
    once = [k for k in missing if k not in set(kept)]
    if kept:
        found.update(_compute(model, store, kept))
    shared = _shared_parent(model, store, once) if once else None
    for key in once:
        store.meet(key)
        if shared is not None:
            found[key] = shared[1]
    entries = [found.get(k) for k in keys]
    return entries, [0 if e is None else e.length for e in entries], hits


def _compute(model, store, missing: list) -> dict:
    parent = _shared_parent(model, store, missing)
    base = 0 if parent is None else parent[1].length
    rests = [k[base:] for k in missing]
    per_row = (base + max(len(r) for r in rests)) * _kv_bytes_per_token(model)
    step = max(1, PAST_BYTES // max(1, per_row))
    parent_kv = None if parent is None else parent[1].kv
    kv = [own for start in range(0, len(rests), step)
          for own in _run_tokens(model, store, rests[start:start + step], parent_kv)]
    out = {}
    for key, own in zip(missing, kv):
        entry = Entry(own, parent[1] if parent else None, len(key),
                      parent[0] if parent else None)
        store.put(key, entry)
        out[key] = entry
    return out


def _shared_parent(model, store, missing: list):
    """(key, entry) of the shared beginning the missing rows start from, or None: one already
    stored, else their longest common prefix when it is long (in-context demonstrations)."""
    shortest = min(len(k) for k in missing)
    for key in sorted(store.shared, key=len, reverse=True):
        if len(key) < shortest and all(k[:len(key)] == key for k in missing):
            entry = store.get(key)
            if entry is not None:
                return key, entry
    if len(missing) < 2:
        return None
    common = 0
    first = missing[0]
    while common < shortest - 1 and all(k[common] == first[common] for k in missing):
        common += 1
    if common < SHARED_MIN:
        return None
    key = first[:common]
    entry = Entry(_run_tokens(model, store, [key], None)[0], None, common)
    store.put(key, entry, shared=True)
    return key, entry


@torch.no_grad()
def _run_tokens(model, store, sequences: list, parent_kv) -> list:
    """Key/value states [layers, 2, heads, n, d] of each token sequence, computed after
    `parent_kv` (shared by all, or None) with the model's frozen embeddings."""
    device = model.device
    lengths = torch.tensor([len(s) for s in sequences], device=device)
    width = int(lengths.max())
    pad = model.renderer().pad_id
    ids = torch.full((len(sequences), width), pad, dtype=torch.long, device=device)
    for b, seq in enumerate(sequences):
        ids[b, width - len(seq):] = torch.tensor(seq, dtype=torch.long, device=device)
    mask = torch.arange(width, device=device)[None, :] >= (width - lengths)[:, None]
    base = 0 if parent_kv is None else parent_kv.shape[3]
    positions = (mask.long().cumsum(1) - 1).clamp(min=0) + base
    full_mask = mask.long()
    cache = None
    if parent_kv is not None:
        expanded = parent_kv.unsqueeze(2).expand(-1, -1, len(sequences), -1, -1, -1)
        cache = _as_cache(expanded, model)
        full_mask = torch.cat([torch.ones(len(sequences), base, dtype=torch.long,
                                          device=device), full_mask], 1)
    else:
        cache = _as_cache(None, model)
    embeds = model.backbone.get_input_embeddings()(ids)
    base_model = model._read_module() or model.backbone
    base_model(inputs_embeds=embeds, attention_mask=full_mask, position_ids=positions,
               cache=cache, use_cache=True)
    layers = _layers(cache)
    store.computed_tokens += int(lengths.sum())
    out = []
    for b, seq in enumerate(sequences):
        start = base + width - len(seq)
        out.append(torch.stack([torch.stack([k[b, :, start:], v[b, :, start:]])
                                for k, v in layers]).contiguous())
    return out


def _layers(cache) -> list:
    """[(keys [B, heads, T, d], values)] per layer of a filled transformers cache."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def _layout(entries: list, lengths: list) -> tuple:
    """(past [layers, 2, B, heads, P, d] left-padded, mask [B, P]) of the rows' entries."""
    some = next((e for e in entries if e is not None), None)
    layers, _, heads, _, dim = some.kv.shape
    width = max(lengths)
    device, dtype = some.kv.device, some.kv.dtype
    if all(e is some for e in entries) and some.parent is None:
        # every row starts with the same entry (fixed demonstrations): a view, no copies
        past = some.kv.unsqueeze(2).expand(-1, -1, len(entries), -1, -1, -1)
        return past, torch.ones(len(entries), width, dtype=torch.long, device=device)
    past = torch.zeros(layers, 2, len(entries), heads, width, dim, device=device, dtype=dtype)
    mask = torch.zeros(len(entries), width, dtype=torch.long, device=device)
    for b, (entry, n) in enumerate(zip(entries, lengths)):
        if entry is None or n == 0:
            continue
        start = width - n
        if entry.parent is not None:
            head = entry.parent.kv
            past[:, :, b, :, start:start + head.shape[3]] = head
            start += head.shape[3]
        past[:, :, b, :, start:width] = entry.kv
        mask[b, width - n:] = 1
    return past, mask


def _as_cache(past, model):
    """A transformers cache holding `past` ([layers, 2, B, heads, P, d], or None: empty) as it
    is: its layers take the tensors without copying them (each attention layer concatenates
    its new keys and values to them)."""
    from transformers import DynamicCache
    cache = DynamicCache(config=model.hf_model().config)
    if past is not None:
        for index, layer in enumerate(cache.layers):
            keys, values = past[index, 0], past[index, 1]
            layer.lazy_initialization(keys, values)
            layer.keys, layer.values = keys, values
    return cache


# ---------------------------------------------------------------- several models, one call
def merge(reads: list, left: bool = True) -> tuple:
    """(one Read of all `reads`' rows, [N of each read]): tensors padded to the widest on the
    family's padding side (position ids and masks with them), read pairs renumbered."""
    width = max(r.input_ids.shape[1] for r in reads)
    names = [k for k, v in reads[0].kwargs.items() if isinstance(v, torch.Tensor)]
    kwargs = {k: v for k, v in reads[0].kwargs.items() if not isinstance(v, torch.Tensor)}
    for name in names:
        kwargs[name] = torch.cat([_pad_to(r.kwargs[name], width, left) for r in reads])
    ids = torch.cat([_pad_to(r.input_ids, width, left) for r in reads])
    fixed = None
    if all(r.fixed is not None for r in reads):
        fixed = torch.cat([r.fixed for r in reads])
    rows, positions, offset = [], [], 0
    for r in reads:
        rows.append(r.rows + offset)
        positions.append(r.positions + (width - r.input_ids.shape[1] if left else 0))
        offset += r.input_ids.shape[0]
    return Read(kwargs, ids, fixed, torch.cat(rows), torch.cat(positions)), \
        [len(r.rows) for r in reads]


def _pad_to(tensor: torch.Tensor, width: int, left: bool) -> torch.Tensor:
    missing = width - tensor.shape[1]
    if missing <= 0:
        return tensor
    pad = tensor.new_zeros((tensor.shape[0], missing, *tensor.shape[2:]))
    return torch.cat([pad, tensor] if left else [tensor, pad], 1)

"""Extra key/value vectors in front of a model's own, inside its attention: the mechanism behind `prefix`.

Transformers 5 models call their attention through `ALL_ATTENTION_FUNCTIONS[config._attn_implementation]`
with (module, query, key, value, mask) already shaped [B, heads, T, d]. We register one wrapper per
base implementation (sdpa, eager) under our own name, and point the backbone's configs at it. The
wrapper prepends a module's prefix keys/values and widens the mask (and T5's position bias) by as
many always-visible columns; modules without a prefix pass straight through. No model's forward
signature, cache or position ids change, so this works alike on masked, causal and seq2seq models.

`probe(backbone, ids)` runs the model once and reports, per self-attention module in call order,
the keys and values it computed: their shapes size the prefixes, their values can initialise them.
`recording` lets other methods (adapters) see where attention happens among other module calls.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

import torch
from transformers.masking_utils import AttentionMaskInterface, eager_mask, sdpa_mask
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, AttentionInterface

from promptdsl.errors import ModelError

from ._vocab import sample_token_ids

NAME = "promptdsl_prefix_{}"
BASES = {"sdpa": sdpa_mask, "eager": eager_mask}
SLOT = "_promptdsl_prefix_slot"


@dataclass
class PrefixSlot:
    """Held by an attention module: where its prefix comes from (owner.key_values(index))."""
    owner: object
    index: int


_recording: list | None = None     # set during `probe`


def _base_attention(module, base: str):
    if base == "eager":
        # every transformers 5 modeling file defines its own eager function under this name
        eager = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
        if eager is None:
            raise ModelError(f"prefix: {type(module).__name__} has no eager attention function; "
                             "load the model with attn_implementation='sdpa'")
        return eager
    return ALL_ATTENTION_FUNCTIONS[base]


def _widen(tensor: torch.Tensor | None, n: int, fill) -> torch.Tensor | None:
    """Prepend `n` columns of `fill` to the last dimension (a mask or a position bias)."""
    if tensor is None:
        return None
    pad = torch.full((*tensor.shape[:-1], n), fill, dtype=tensor.dtype, device=tensor.device)
    return torch.cat([pad, tensor], dim=-1)


def _causal_mask(module, base: str, query, key, kwargs) -> torch.Tensor | None:
    """The mask sdpa would have applied implicitly (is_causal) when given none, else None."""
    if base != "sdpa" or query.shape[2] <= 1:
        return None
    is_causal = kwargs.get("is_causal")
    is_causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    if not is_causal:
        return None
    q_len, kv_len = query.shape[2], key.shape[2]
    rows = torch.arange(q_len, device=query.device)[:, None] + (kv_len - q_len)
    return (rows >= torch.arange(kv_len, device=query.device)[None, :])[None, None]


def _make_wrapper(base: str):
    def attention(module, query, key, value, attention_mask, **kwargs):
        if _recording is not None:
            _recording.append(("attention", module, query.shape[2], key.detach(), value.detach()))
        slot = getattr(module, SLOT, None)
        if slot is not None:
            prefix_key, prefix_value = slot.owner.key_values(slot.index)
            n = prefix_key.shape[-2]
            if attention_mask is None:
                # sdpa's implicit causal mask would not know about the prefix: make it explicit
                attention_mask = _causal_mask(module, base, query, key, kwargs)
            batch = key.shape[0]
            key = torch.cat([prefix_key.to(key.dtype).expand(batch, -1, -1, -1), key], dim=2)
            value = torch.cat([prefix_value.to(value.dtype).expand(batch, -1, -1, -1), value], dim=2)
            if attention_mask is not None:
                attention_mask = _widen(attention_mask, n, True if attention_mask.dtype == torch.bool
                                        else 0.0)
            if kwargs.get("position_bias") is not None:
                kwargs["position_bias"] = _widen(kwargs["position_bias"], n, 0.0)
        return _base_attention(module, base)(module, query, key, value, attention_mask, **kwargs)
    return attention


for _base, _mask in BASES.items():
    AttentionInterface.register(NAME.format(_base), _make_wrapper(_base))
    AttentionMaskInterface.register(NAME.format(_base), _mask)


def _configs(backbone) -> list:
    configs = {id(m.config): m.config for m in backbone.modules()
               if hasattr(getattr(m, "config", None), "_attn_implementation")}
    return list(configs.values())


def route_attention(backbone, strict: bool = True) -> dict:
    """Send every attention call of `backbone` through the wrapper (idempotent).
    Returns {id(config): (config, previous implementation)} for the configs it changed.

    Prefixes need a wrapped sdpa or eager attention (`strict`); a probe that only watches the
    calls runs any other implementation (flash, flex) as sdpa for that one forward."""
    changed = {}
    for config in _configs(backbone):
        current = config._attn_implementation or "sdpa"
        if current.startswith(NAME.format("")):
            continue
        if current not in BASES and strict:
            raise ModelError(f"prefix needs the sdpa or eager attention, not `{current}`; load "
                             "the model with attn_implementation=\"sdpa\"")
        changed[id(config)] = (config, config._attn_implementation)
        config._attn_implementation_internal = NAME.format(current if current in BASES else "sdpa")
    return changed


def attach(attention_module, owner, index: int) -> None:
    setattr(attention_module, SLOT, PrefixSlot(owner, index))


@contextlib.contextmanager
def recording(backbone):
    """Within the block, every attention call of `backbone` is appended to the yielded list as
    ("attention", module, query_length, key, value); callers may append their own events."""
    global _recording
    changed = route_attention(backbone, strict=False)
    _recording = []
    try:
        yield _recording
    finally:
        _recording = None
        for config, previous in changed.values():   # leave the model as it was
            config._attn_implementation_internal = previous


def probe_inputs(model, length: int):
    """Probe ids: `length` common tokens; for seq2seq, a decoder input one longer."""
    backbone = model.backbone
    vocab_size = backbone.get_input_embeddings().num_embeddings
    ids = sample_token_ids(getattr(model, "tokenizer", None), vocab_size, length).unsqueeze(0)
    decoder_ids = None
    if getattr(backbone.config, "is_encoder_decoder", False):
        start = backbone.config.decoder_start_token_id
        start = start if start is not None else (backbone.config.pad_token_id or 0)
        decoder_ids = torch.cat([torch.tensor([[start]]), ids], dim=1)   # longer than the encoder's
    device = backbone.get_input_embeddings().weight.device
    return ids.to(device), None if decoder_ids is None else decoder_ids.to(device)



def run_probe(backbone, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor | None = None):
    """One no-grad forward in eval mode, as given (what `recording` watches)."""
    was_training = backbone.training
    backbone.eval()
    try:
        kwargs = {"input_ids": input_ids}
        if input_ids.device.type == "meta" and decoder_input_ids is None:
            # (`promptc check` counts parameters on the meta device.) Mask preparation inspects
            # values; a ready 4D mask is taken as is. Values on meta are never read anyway.
            n = input_ids.shape[1]
            kwargs["attention_mask"] = torch.ones(1, 1, n, n, dtype=torch.bool, device="meta")
        if decoder_input_ids is not None:
            kwargs["decoder_input_ids"] = decoder_input_ids
        with torch.no_grad():
            backbone(**kwargs, use_cache=False)
    finally:
        backbone.train(was_training)


def self_attention_calls(events) -> list:
    """[(module, key, value)] of the self-attention calls among `events`, first call of each.

    A call is self-attention when its keys are as long as its queries; probes make the decoder
    input longer than the encoder input so cross-attention never looks like it."""
    seen, found = set(), []
    for event in events:
        if event[0] != "attention":
            continue
        _, module, q_len, key, value = event
        if key.shape[2] == q_len and id(module) not in seen:
            seen.add(id(module))
            found.append((module, key, value))
    return found


def probe(backbone, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor | None = None):
    """[(module, key [1, kv_heads, n, d], value)] for each self-attention module, in call order."""
    with recording(backbone) as events:
        run_probe(backbone, input_ids, decoder_input_ids)
    found = self_attention_calls(events)
    if not found:
        raise ModelError(f"found no attention layers in {type(backbone).__name__} "
                         "(does it use the transformers attention interface?)")
    return found

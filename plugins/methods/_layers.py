"""Finding, by structure, where each transformer layer's attention and feed-forward sublayers end.

One probe forward records, inside each layer, the calls of its attention (through the attention
interface, see _attention.py) and of its leaf modules with weights, with the width of their
outputs. A sublayer's output projection is a leaf whose output is as wide as the layer's input
(the residual stream): the first such leaf after an attention call ends that attention (self or
cross); the last such leaf after that ends the feed-forward. The projections an attention module
calls before it attends are its query/key/value inputs (LoRA's default targets). No module or
model names involved.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from promptdsl.errors import ModelError

from . import _attention


@dataclass
class LayerOutputs:
    hidden: int                                    # width of the residual stream
    attention: list = field(default_factory=list)  # output projections of attention sublayers
    feed_forward: nn.Module | None = None          # output projection of the feed-forward


def transformer_layers(model) -> list:
    """The model's transformer blocks: `model.transformer_layers()`, else the backbone's
    ModuleLists of same-class blocks that hold attention modules."""
    if hasattr(model, "transformer_layers"):
        return list(model.transformer_layers())
    ids, decoder_ids = _attention.probe_inputs(model, 4)
    attention = {id(m) for m, _, _ in _attention.probe(model.backbone, ids, decoder_ids)}
    layers = []
    for module in model.backbone.modules():
        if isinstance(module, nn.ModuleList) and len(module) and \
                len({type(child) for child in module}) == 1 and \
                all(any(id(sub) in attention for sub in child.modules()) for child in module):
            layers.extend(module)
    return layers


def _first_tensor(args, kwargs):
    for value in list(args) + [kwargs.get("hidden_states")]:
        if isinstance(value, torch.Tensor):
            return value
    return None


def _is_projection(module: nn.Module) -> bool:
    """A leaf with a weight matrix that is not an embedding table (Linear, GPT-2's Conv1D …)."""
    return (not list(module.children()) and not isinstance(module, nn.Embedding)
            and any(p.dim() == 2 for p in module.parameters(recurse=False)))


def trace(model) -> tuple[list, list]:
    """(events, layers) of one probe forward: ("enter", i, width) / ("exit", i) around layer i,
    ("leaf", module, output width) for projections inside layers, and attention calls."""
    layers = transformer_layers(model)
    if not layers:
        raise ModelError(f"found no transformer layers in {type(model.backbone).__name__}")
    handles = []
    with _attention.recording(model.backbone) as events:
        for index, layer in enumerate(layers):
            handles.append(layer.register_forward_pre_hook(
                lambda m, a, k, i=index: events.append(("enter", i, _first_tensor(a, k).shape[-1])),
                with_kwargs=True))
            handles.append(layer.register_forward_hook(lambda m, a, o, i=index: events.append(("exit", i))))
            for leaf in layer.modules():
                if _is_projection(leaf):
                    handles.append(leaf.register_forward_hook(
                        lambda m, a, o: events.append(("leaf", m, o.shape[-1]))
                        if isinstance(o, torch.Tensor) else None))
        try:
            ids, decoder_ids = _attention.probe_inputs(model, 4)
            _attention.run_probe(model.backbone, ids, decoder_ids)
        finally:
            for handle in handles:
                handle.remove()
    return list(events), layers


def find_sublayer_outputs(model) -> list[LayerOutputs]:
    events, layers = trace(model)
    return _parse(events, len(layers))


def find_attention_inputs(model) -> list[tuple]:
    """[(attention module, [its projections called before it attends])]: q, k, v (or a fused qkv)."""
    events, _ = trace(model)
    found, pending, seen = [], [], set()
    for event in events:
        if event[0] == "leaf":
            pending.append(event[1])
        elif event[0] == "attention":
            module = event[1]
            inside = {id(m) for m in module.modules()}
            inputs = list(dict.fromkeys(m for m in pending if id(m) in inside))
            if id(module) not in seen and inputs:
                seen.add(id(module))
                found.append((module, inputs))
            pending = []
    return found


def _parse(events, count: int) -> list[LayerOutputs]:
    found: dict[int, LayerOutputs] = {}
    current, after_attention, wide_leaves = None, False, []
    for event in events:
        if event[0] == "enter":
            current, after_attention, wide_leaves = event[1], False, []
            found.setdefault(current, LayerOutputs(hidden=event[2]))
        elif current is None:
            continue
        elif event[0] == "attention":
            after_attention, wide_leaves = True, []
        elif event[0] == "leaf" and event[2] == found[current].hidden:
            outputs = found[current]
            if after_attention:
                if event[1] not in outputs.attention:
                    outputs.attention.append(event[1])
                after_attention = False
            else:
                wide_leaves.append(event[1])
        elif event[0] == "exit":
            if wide_leaves and found[current].feed_forward is None:
                found[current].feed_forward = wide_leaves[-1]
            current = None
    return [found[i] for i in range(count) if i in found]

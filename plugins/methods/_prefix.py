"""`prefix`: per-layer key/value prefixes, trained directly or through an MLP (see prefix.py)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from . import _attention
from ._options import MethodOptionError

MODULE_NAME = "method_prefix"


class PrefixKeyValues(nn.Module):
    """Keys and values for each self-attention module: `key_values(i)` -> ([1,h,P,dk], [1,h,P,dv]).

    Both start from the model's own keys and values for `length` real tokens (Li & Liang found
    real-word initialisation much better than random in low-data settings). With `hidden`, they
    are produced by embedding -> Linear -> tanh -> Linear (Li & Liang's reparameterisation), the
    embedding starting from those tokens' input embeddings.
    """

    def __init__(self, keys: list, values: list, embeddings: torch.Tensor | None, hidden: int | None):
        super().__init__()
        self.shapes = [(k.shape, v.shape) for k, v in zip(keys, values)]
        self.length = keys[0].shape[1]
        if hidden is None:
            self.keys = nn.ParameterList([nn.Parameter(k.clone()) for k in keys])
            self.values = nn.ParameterList([nn.Parameter(v.clone()) for v in values])
            self.embedding = self.mlp = None
            return
        sizes = [k.numel() // self.length + v.numel() // self.length for k, v in zip(keys, values)]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        self.embedding = nn.Parameter(embeddings.clone())
        self.mlp = nn.Sequential(nn.Linear(embeddings.shape[1], hidden), nn.Tanh(),
                                 nn.Linear(hidden, self.offsets[-1]))

    def key_values(self, index: int):
        (heads, length, d_key), (_, _, d_value) = self.shapes[index]
        if self.mlp is None:
            return self.keys[index].unsqueeze(0), self.values[index].unsqueeze(0)
        hidden = self.mlp[1](self.mlp[0](self.embedding))            # [P, hidden], cheap
        rows = slice(self.offsets[index], self.offsets[index + 1])     # only this module's outputs
        out = F.linear(hidden, self.mlp[2].weight[rows], self.mlp[2].bias[rows])
        key, value = out.split([heads * d_key, heads * d_value], dim=-1)
        key = key.view(length, heads, d_key).transpose(0, 1)
        value = value.view(length, heads, d_value).transpose(0, 1)
        return key.unsqueeze(0), value.unsqueeze(0)


def apply_prefix(model, options) -> None:
    if hasattr(model, MODULE_NAME):
        raise MethodOptionError("method `prefix` is given twice; give it once")
    _attention.route_attention(model.backbone)       # first: fails early on flash attention
    ids, decoder_ids = _attention.probe_inputs(model, options.length)
    found = _attention.probe(model.backbone, ids, decoder_ids)
    keys = [key[0, :, -options.length:].float() for _, key, _ in found]
    values = [value[0, :, -options.length:].float() for _, _, value in found]
    embeddings = None
    if options.projection:
        embeddings = model.backbone.get_input_embeddings()(ids)[0].detach().float()
    prefix = PrefixKeyValues(keys, values, embeddings, options.hidden if options.projection else None)
    prefix.to(ids.device)
    model.add_module(MODULE_NAME, prefix)
    for index, (module, _, _) in enumerate(found):
        _attention.attach(module, prefix, index)

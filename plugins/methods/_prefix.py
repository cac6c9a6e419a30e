"""`prefix`: per-layer key/value prefixes, trained directly or through an MLP (see prefix.py)."""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from promptdsl.errors import ModelError
from promptdsl.runtime import write_safetensors

from . import _attention

MODULE_NAME = "method_prefix"


class PrefixKeyValues(nn.Module):
    """Keys and values for each self-attention module: `key_values(i)` -> ([1,h,P,dk], [1,h,P,dv]).

    Both start from the model's own keys and values for `length` real tokens (Li & Liang found
    real-word initialisation much better than random in low-data settings). With `hidden`, they
    are those start values plus embedding -> Linear -> tanh -> Linear (Li & Liang's
    reparameterisation), the embedding starting from the tokens' input embeddings and the last
    Linear from zero, so training starts from the real-token prefix either way. The start values
    are recomputed from the model when the method is applied (a buffer, not saved).
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
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)
        start = [torch.cat([k.transpose(0, 1).reshape(self.length, -1),
                            v.transpose(0, 1).reshape(self.length, -1)], dim=-1)
                 for k, v in zip(keys, values)]
        self.register_buffer("start", torch.cat(start, dim=-1), persistent=False)

    def set_fixed(self, keys: list, values: list) -> None:
        """Use these keys and values as they are, frozen, without the MLP (exported prefixes)."""
        self.keys = nn.ParameterList([nn.Parameter(k, requires_grad=False) for k in keys])
        self.values = nn.ParameterList([nn.Parameter(v, requires_grad=False) for v in values])
        self.embedding = self.mlp = self.start = None

    def key_values(self, index: int):
        (heads, length, d_key), (_, _, d_value) = self.shapes[index]
        if self.mlp is None:
            return self.keys[index].unsqueeze(0), self.values[index].unsqueeze(0)
        hidden = self.mlp[1](self.mlp[0](self.embedding))            # [P, hidden], cheap
        rows = slice(self.offsets[index], self.offsets[index + 1])     # only this module's outputs
        out = F.linear(hidden, self.mlp[2].weight[rows], self.mlp[2].bias[rows]) + self.start[:, rows]
        key, value = out.split([heads * d_key, heads * d_value], dim=-1)
        key = key.view(length, heads, d_key).transpose(0, 1)
        value = value.view(length, heads, d_value).transpose(0, 1)
        return key.unsqueeze(0), value.unsqueeze(0)


def apply_prefix(model, options) -> None:
    if hasattr(model, MODULE_NAME):
        raise ModelError("method `prefix` is given twice; give it once")
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


EXPORT_FILE = "prefix_key_values.safetensors"


@torch.no_grad()
def save_prefix_export(model, directory) -> Path:
    """Write every layer's computed keys and values: with `projection` the MLP is only a training
    aid, and these are all inference needs (see `load_prefix_export`)."""
    prefix = getattr(model, MODULE_NAME)
    tensors = {}
    for index in range(len(prefix.shapes)):
        key, value = prefix.key_values(index)
        tensors[f"keys.{index}"] = key[0].detach().float().cpu().contiguous()
        tensors[f"values.{index}"] = value[0].detach().float().cpu().contiguous()
    path = Path(directory) / EXPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(tensors, path)
    return path


@torch.no_grad()
def load_prefix_export(model, directory) -> None:
    """Make `model`'s prefixes (method `prefix` applied) the exported keys and values, fixed;
    the reparameterisation MLP is dropped. Predictions equal the trained model's."""
    prefix = getattr(model, MODULE_NAME, None)
    if prefix is None:
        raise ModelError("load_prefix_export: the model has no `prefix` method applied")
    path = Path(directory)
    path = path / EXPORT_FILE if path.is_dir() else path
    try:
        tensors = load_file(str(path))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the prefix export: {exc}") from exc
    count = len(prefix.shapes)
    names = {f"{kind}.{i}" for kind in ("keys", "values") for i in range(count)}
    if set(tensors) != names:
        raise ModelError(f"{path}: holds prefixes for a different model "
                                f"({len(tensors) // 2} attention layers, the model has {count})")
    device = next(prefix.parameters()).device
    prefix.set_fixed([tensors[f"keys.{i}"].to(device) for i in range(count)],
                     [tensors[f"values.{i}"].to(device) for i in range(count)])

"""`adapter`: bottleneck adapters on every sublayer output found by structure (see adapter.py)."""
from __future__ import annotations

from torch import nn

from promptdsl.errors import ModelError

from ._layers import find_sublayer_outputs

MODULE_NAME = "method_adapters"
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class Bottleneck(nn.Module):
    """x + up(act(down(x))); `up` starts at zero, so a new adapter is exactly the identity."""

    def __init__(self, hidden: int, reduction: int, non_linearity: str):
        super().__init__()
        size = max(1, hidden // reduction)
        self.down = nn.Linear(hidden, size)
        self.act = ACTIVATIONS[non_linearity]()
        self.up = nn.Linear(size, hidden)
        nn.init.normal_(self.down.weight, std=1e-2)   # Houlsby et al.: near-identity init
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x):
        return x + self.up(self.act(self.down(x.to(self.down.weight.dtype)))).to(x.dtype)


def _hook(adapter):
    # forward hook on an output projection: its output goes through the adapter
    return lambda module, args, output: adapter(output)


def apply_adapters(model, options) -> None:
    if hasattr(model, MODULE_NAME):
        raise ModelError("method `adapter` is given twice; give it once")
    adapters = nn.ModuleList()
    targets = []
    for layer in find_sublayer_outputs(model):
        for projection in layer.attention + ([layer.feed_forward] if layer.feed_forward else []):
            adapters.append(Bottleneck(layer.hidden, options.reduction, options.non_linearity))
            targets.append(projection)
    if not adapters:
        raise ModelError(f"adapter: found no attention or feed-forward outputs in "
                                f"{type(model.backbone).__name__}")
    weight = next(model.backbone.parameters())
    adapters.to(device=weight.device)
    model.add_module(MODULE_NAME, adapters)
    for adapter, projection in zip(adapters, targets):
        projection.register_forward_hook(_hook(adapter))

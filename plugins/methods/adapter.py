"""`adapter`: bottleneck adapters (Houlsby et al. 2019) after attention and feed-forward of
every layer: down-project, non-linearity, up-project, residual. The up-projection starts at
zero, so a fresh adapter is the identity and the model starts where it was.
"""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec, options_schema

from ._options import choice, integer, typed

NAME = "adapter"
NON_LINEARITIES = ["relu", "gelu", "tanh", "silu"]


@dataclass
class AdapterOptions:
    reduction: int = 16          # hidden size / bottleneck size (Pfeiffer et al.: 16)
    non_linearity: str = "relu"


SCHEMA = options_schema({
    "reduction": integer(1, 16, description="bottleneck = hidden size / reduction"),
    "non_linearity": choice(NON_LINEARITIES, "relu", "activation inside the bottleneck"),
})


def apply(model, options: dict) -> None:
    from ._adapter import apply_adapters
    apply_adapters(model, typed(AdapterOptions, options, NAME))


SPECS = [MethodSpec(
    name=NAME, apply=apply, schema=SCHEMA,
    description="bottleneck adapters after attention and feed-forward of every layer")]

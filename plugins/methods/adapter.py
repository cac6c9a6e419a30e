"""`adapter`: bottleneck adapters (Houlsby et al. 2019) after attention and feed-forward of
every layer: down-project, non-linearity, up-project, residual. The up-projection starts at
zero, so a fresh adapter is the identity and the model starts where it was.
"""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec
from promptdsl.options import MAX_WIDTH, option, typed

NAME = "adapter"
NON_LINEARITIES = ["relu", "gelu", "tanh", "silu"]


@dataclass
class AdapterOptions:
    # hidden size / bottleneck size (Pfeiffer et al.: 16)
    reduction: int = option(16, "bottleneck = hidden size / reduction", minimum=1,
                            maximum=MAX_WIDTH)
    non_linearity: str = option("relu", "activation inside the bottleneck",
                                enum=NON_LINEARITIES)


def apply(model, options: dict) -> None:
    from ._adapter import apply_adapters
    apply_adapters(model, typed(AdapterOptions, options, f"method {NAME}"))


SPECS = [MethodSpec(
    name=NAME, apply=apply, options=AdapterOptions,
    description="bottleneck adapters after attention and feed-forward of every layer")]

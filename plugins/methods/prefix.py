"""`prefix`: prefix-tuning (Li & Liang 2021) and P-tuning v2 deep prompts (Liu et al. 2022).

Every attention layer gets `length` trainable key/value vectors in front of the sequence's own,
on masked, causal and seq2seq models (encoder self-attention, decoder self-attention).
With `projection`, the prefixes come from a small MLP over a prefix embedding (the
reparameterisation of Li & Liang); without it they are trained directly (P-tuning v2).
"""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec, options_schema

from ._options import boolean, integer, typed

NAME = "prefix"


@dataclass
class PrefixOptions:
    length: int = 10          # Li & Liang: 10 for table-to-text
    projection: bool = True   # MLP reparameterisation (Li & Liang); false: P-tuning v2 style
    hidden: int = 512         # the MLP's hidden size (Li & Liang: 512)


SCHEMA = options_schema({
    "length": integer(1, 10, description="prefix vectors per layer"),
    "projection": boolean(True, "produce the prefixes through an MLP (reparameterisation)"),
    "hidden": integer(1, 512, description="hidden size of the reparameterisation MLP"),
})


def apply(model, options: dict) -> None:
    from ._prefix import apply_prefix
    apply_prefix(model, typed(PrefixOptions, options, NAME))


SPECS = [MethodSpec(
    name=NAME, apply=apply, schema=SCHEMA,
    description="key/value prefixes in every layer (prefix-tuning, P-tuning v2)")]

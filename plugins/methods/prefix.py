"""`prefix`: prefix-tuning (Li & Liang 2021) and P-tuning v2 deep prompts (Liu et al. 2022).

Every attention layer gets `length` trainable key/value vectors in front of the sequence's own,
on masked, causal and seq2seq models (encoder self-attention, decoder self-attention).
With `projection`, the prefixes come from a small MLP over a prefix embedding (the
reparameterisation of Li & Liang); without it they are trained directly (P-tuning v2).
`save` also writes the computed keys and values (prefix_key_values.safetensors), all inference
needs; `load_prefix_export` puts them into a freshly compiled model.
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


def save(model, options: dict, directory) -> None:
    from ._prefix import save_prefix_export
    save_prefix_export(model, directory)


def load_prefix_export(model, directory) -> None:
    """Load what `save` wrote (every layer's computed keys and values) into a model compiled from
    the same task: the prefixes become fixed tensors, the MLP is dropped, predictions are equal."""
    from ._prefix import load_prefix_export as load
    load(model, directory)


SPECS = [MethodSpec(
    name=NAME, apply=apply, schema=SCHEMA, save=save,
    description="key/value prefixes in every layer (prefix-tuning, P-tuning v2)")]

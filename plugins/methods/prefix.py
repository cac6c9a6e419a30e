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

from promptdsl import MethodSpec
from promptdsl.options import MAX_SOFT_TOKENS, MAX_WIDTH, option, typed

NAME = "prefix"


@dataclass
class PrefixOptions:
    # Li & Liang: 10 for table-to-text
    length: int = option(10, "prefix vectors per layer", minimum=1,
                         maximum=MAX_SOFT_TOKENS)
    # MLP reparameterisation (Li & Liang); false: P-tuning v2 style
    projection: bool = option(True, "produce the prefixes through an MLP (reparameterisation)")
    # Li & Liang: 512
    hidden: int = option(512, "hidden size of the reparameterisation MLP", minimum=1,
                         maximum=MAX_WIDTH)


def apply(model, options: dict) -> None:
    from ._prefix import apply_prefix
    apply_prefix(model, typed(PrefixOptions, options, f"method {NAME}"))


def save(model, options: dict, directory) -> None:
    from ._prefix import save_prefix_export
    save_prefix_export(model, directory)


def load_prefix_export(model, directory) -> None:
    """Load what `save` wrote (every layer's computed keys and values) into a model compiled from
    the same task: the prefixes become fixed tensors, the MLP is dropped, predictions are equal."""
    from ._prefix import load_prefix_export as load
    load(model, directory)


SPECS = [MethodSpec(
    name=NAME, apply=apply, options=PrefixOptions, save=save,
    description="key/value prefixes in every layer (prefix-tuning, P-tuning v2)")]

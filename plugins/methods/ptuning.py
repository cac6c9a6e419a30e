"""`ptuning` (P-tuning v1, Liu et al. 2021, "GPT understands, too").

The template's soft tokens, wherever they stand, are produced by a prompt encoder (a
bidirectional LSTM followed by an MLP, an MLP, or none) that replaces `soft_prompt.encoder`.
At save time only the encoder's output embeddings are needed: `save` writes them, and
`load_ptuning_export` rebuilds a model that predicts identically without the encoder.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptdsl import MethodSpec
from promptdsl.options import MAX_WIDTH, option, typed

NAME = "ptuning"


@dataclass
class PTuningOptions:
    # the paper's encoder: 2-layer bi-LSTM + 2-layer MLP
    encoder: Literal["lstm", "mlp", "none"] = option(
        "lstm", "prompt encoder: bi-LSTM + MLP, MLP, or none (plain soft tokens)")
    # None: the model's hidden size (as in the paper's code)
    hidden: int | None = option(None, "the encoder's hidden size (default: the model's)",
                                minimum=1, maximum=MAX_WIDTH)
    # false: the model trains too (the paper's fully supervised runs)
    freeze_model: bool = option(True, "leave the language model as it is (false: tune it too)")


def apply(model, options: dict) -> None:
    from ._soft import apply_ptuning
    apply_ptuning(model, typed(PTuningOptions, options, f"method {NAME}"))


def save(model, options: dict, directory) -> None:
    from ._soft import save_ptuning_export
    save_ptuning_export(model, directory)


SPECS = [MethodSpec(
    name=NAME, apply=apply, options=PTuningOptions, save=save,
    description="soft tokens produced by a prompt encoder (P-tuning v1)")]


def load_ptuning_export(model, directory) -> None:
    """Load what `save` wrote into a model compiled from the same task: its soft-token table
    becomes the exported embeddings and the prompt encoder is dropped (identical predictions)."""
    from ._soft import load_ptuning_export as load
    load(model, directory)

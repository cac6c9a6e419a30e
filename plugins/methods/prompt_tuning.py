"""`prompt_tuning` (Lester et al., 2021): soft tokens train; the model is left as it is (frozen,
unless an earlier method made it trainable).

Trains the template's own soft tokens plus `length` more prepended before the first piece.
`init` sets the starting embeddings of soft tokens that have no init text of their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from promptdsl import MethodSpec
from promptdsl.options import MAX_SOFT_TOKENS, option, typed

NAME = "prompt_tuning"
DEFAULT_LENGTH_WITHOUT_SOFT_TOKENS = 20   # Lester et al.: 20 tokens already near full quality


@dataclass
class PromptTuningOptions:
    # extra soft tokens prepended; None: 20 if the template has no soft tokens, else 0
    length: int | None = option(None, "soft tokens prepended to the template (default: 20 when "
                                      "the template has none, else 0)", minimum=0,
                                      maximum=MAX_SOFT_TOKENS)
    # "vocab" (embeddings of sampled frequent tokens, the paper's best), "random",
    # or {"text": "..."} (embeddings of that text, cut or repeated to fit)
    init: Union[str, dict] = option(
        "vocab", "start embeddings for soft tokens without their own init: vocab | random | "
                 "text \"…\"",
        oneOf=[{"type": "string", "enum": ["vocab", "random"]},
               {"type": "object", "properties": {"text": {"type": "string", "minLength": 1}},
                "required": ["text"], "additionalProperties": False}])


def apply(model, options: dict) -> None:
    from ._soft import apply_prompt_tuning
    apply_prompt_tuning(model, typed(PromptTuningOptions, options, f"method {NAME}"))


SPECS = [MethodSpec(
    name=NAME, apply=apply, options=PromptTuningOptions,
    description="soft prompt; the model stays as it is (Lester et al. 2021)")]

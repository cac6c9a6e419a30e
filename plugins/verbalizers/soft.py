"""`verbalizer soft`: trainable label embeddings (WARP-style), initialised from the label words'
output embeddings and scored against the hidden state at the mask."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptdsl import VerbalizerSpec
from promptdsl.options import AtMaskOptions, option


@dataclass
class SoftOptions(AtMaskOptions):
    init: Literal["words", "random"] = option(
        "words", "words: start from the mean output embedding of each label's words")


def build(context):
    from ._soft import SoftVerbalizer
    return SoftVerbalizer(context)


SPECS = [VerbalizerSpec("soft", build, options=SoftOptions,
                        description="trainable label embeddings initialised from the label words")]

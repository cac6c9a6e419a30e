"""`verbalizer soft`: trainable label embeddings (WARP-style), initialised from the label words'
output embeddings and scored against the hidden state at the mask."""
from __future__ import annotations

from promptdsl.specs import VerbalizerSpec

from ._options import kind_schema

SCHEMA = kind_schema(
    init={"enum": ["words", "random"], "default": "words",
          "description": "words: start from the mean output embedding of each label's words"},
)


def build(context):
    from ._soft import SoftVerbalizer
    return SoftVerbalizer(context)


SPECS = [VerbalizerSpec("soft", build, SCHEMA,
                        "trainable label embeddings initialised from the label words")]

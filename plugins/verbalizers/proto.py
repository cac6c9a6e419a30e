"""`verbalizer proto` (ProtoVerb-style): one prototype per label in the space of the mask's hidden
state, initialised as the mean over that label's training examples; trainable."""
from __future__ import annotations

from promptdsl.specs import VerbalizerSpec

from ._options import kind_schema

SCHEMA = kind_schema(
    temperature={"type": "number", "exclusiveMinimum": 0, "default": 0.1,
                 "description": "scores are cosine similarities divided by this"},
    words_weight={"type": "number", "minimum": 0, "default": 0.0,
                  "description": "add this times the label words' scores (0: prototypes only)"},
    trainable={"type": "boolean", "default": True,
               "description": "train the prototypes when the method trains"},
)


def build(context):
    from ._proto import ProtoVerbalizer
    return ProtoVerbalizer(context)


SPECS = [VerbalizerSpec("proto", build, SCHEMA,
                        "prototypes of each label in the mask's hidden-state space")]

"""`verbalizer proto` (ProtoVerb-style): one prototype per label in the space of the mask's hidden
state, initialised as the mean over that label's training examples; trainable."""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import VerbalizerSpec
from promptdsl.options import AtMaskOptions, option


@dataclass
class ProtoOptions(AtMaskOptions):
    temperature: float = option(0.1, "scores are cosine similarities divided by this",
                                exclusiveMinimum=0)
    words_weight: float = option(0.0, "add this times the label words' scores (0: prototypes "
                                      "only)", minimum=0)
    trainable: bool = option(True, "train the prototypes when the method trains")


def build(context):
    from ._proto import ProtoVerbalizer
    return ProtoVerbalizer(context)


SPECS = [VerbalizerSpec("proto", build, options=ProtoOptions,
                        description="prototypes of each label in the mask's hidden-state space")]

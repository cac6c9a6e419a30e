"""`verbalizer { "0": "terrible", "bad"  "1": "great" }`: fixed label words (the default kind).

Each label's score is the mean log-probability of its words at the mask (see
promptdsl.model.Verbalizer for the pipeline); `calibrate` and `multi_token` as every kind.
"""
from __future__ import annotations

from promptdsl import VerbalizerSpec
from promptdsl.options import VerbalizerOptions


def build(context):
    from promptdsl.model import Verbalizer
    return Verbalizer(context)


SPECS = [VerbalizerSpec("manual", build, options=VerbalizerOptions,
                        description="fixed label words, several per label (the default)")]

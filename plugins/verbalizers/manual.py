"""`verbalizer { "0": "terrible", "bad"  "1": "great" }`: fixed label words (the default kind).

Each label's score is the mean log-probability of its words at the mask (see
promptdsl.model.verbalizer for the pipeline); `calibrate` and `multi_token` as every kind.
"""
from __future__ import annotations

from promptdsl.specs import VerbalizerSpec

from ._options import kind_schema

SCHEMA = kind_schema()


def build(context):
    from promptdsl.model.verbalizer import Verbalizer
    return Verbalizer(context)


SPECS = [VerbalizerSpec("manual", build, SCHEMA,
                        "fixed label words, several per label (the default)")]

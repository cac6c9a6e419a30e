"""`verbalizer auto`: label words searched on the training data (PETAL, Schick et al. 2020):
for each label, the vocabulary words whose likelihood at the mask best separates its examples
from the others'."""
from __future__ import annotations

from promptdsl.specs import VerbalizerSpec

from ._options import kind_schema

SCHEMA = kind_schema(
    words_per_label={"type": "integer", "minimum": 1, "default": 3,
                     "description": "how many words the search keeps for each label"},
    candidates={"type": "integer", "minimum": 1, "default": 1000,
                "description": "search only the tokens most likely at the mask on the train data"},
)


def build(context):
    from ._auto import AutoVerbalizer
    return AutoVerbalizer(context)


SPECS = [VerbalizerSpec("auto", build, SCHEMA,
                        "label words found on the training data (PETAL likelihood ratio)")]

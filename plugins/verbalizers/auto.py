"""`verbalizer auto`: label words searched on the training data (PETAL, Schick et al. 2020):
for each label, the vocabulary words whose likelihood at the mask best separates its examples
from the others'."""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import VerbalizerSpec
from promptdsl.options import VerbalizerOptions, option


@dataclass
class AutoOptions(VerbalizerOptions):
    words_per_label: int = option(3, "how many words the search keeps for each label",
                                  minimum=1)
    candidates: int = option(1000, "search only the tokens most likely at the mask on the train "
                                   "data", minimum=1)


def build(context):
    from ._auto import AutoVerbalizer
    return AutoVerbalizer(context)


SPECS = [VerbalizerSpec("auto", build, options=AutoOptions,
                        description="label words found on the training data (PETAL likelihood "
                                    "ratio)")]

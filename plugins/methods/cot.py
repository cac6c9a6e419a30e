"""`method cot`: zero-shot chain of thought for causal models (Kojima et al. 2022). Stage one
generates a rationale after the reasoning trigger; stage two appends the answer trigger and reads
the answer at the mask through the verbalizer. Evaluation only; the rationales are the
`rationale` column of predictions.tsv, and `promptc eval` / `predict` score the same way."""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec
from promptdsl.options import MAX_WIDTH, option, typed

NAME = "cot"


@dataclass
class CotOptions:
    max_new_tokens: int = option(64, "length limit of the generated rationale", minimum=1,
                                 maximum=MAX_WIDTH)
    trigger: str = option("Let's think step by step.",
                          "text after the input that starts the rationale")
    answer_trigger: str = option("Therefore, the answer is",
                                 "text after the rationale, before the mask")


def apply(model, options):
    """Nothing changes in the graph; rows are scored in two stages (see _cot.install)."""
    from ._cot import install
    install(model, typed(CotOptions, options, f"method {NAME}"))


SPECS = [MethodSpec(NAME, apply, description="zero-shot chain of thought (causal models)",
                    trains=False, generation=False, options=CotOptions)]

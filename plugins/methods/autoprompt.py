"""`method autoprompt` (Shin et al. 2020): gradient-guided search for trigger words.

The template's soft tokens are the trigger slots ("{sentence} <soft*4> [MASK]"); each becomes a
real vocabulary word. Every iteration: the gradient of the gold labels' log-likelihood (through
the task's verbalizer) at the trigger embeddings ranks every word by -grad·e (a first-order
estimate of the gain), the top `candidates` for one slot are scored on a batch in one pass, and
the best replaces the slot's word if it beats it. The found template is written to the run
directory as `found.prompt`, a plain zero-shot task, and evaluated as one.
"""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec
from promptdsl.options import option

NAME = "autoprompt"


@dataclass
class AutoPromptOptions:
    iterations: int = option(50, "search steps; each may change one trigger word", minimum=1,
                             maximum=100_000)
    candidates: int = option(10, "words tried per step (the top of the gradient's ranking)",
                             minimum=1, maximum=1_000)
    batch_size: int = option(16, "train rows for each step's gradient and for scoring its "
                                 "candidates", minimum=1, maximum=4_096)
    filler: str = option("the", "the word a soft token without init text starts as",
                         minLength=1)


def apply(model, options):
    """The search runs in `run`; on a single model autoprompt changes nothing."""


def run(task, context):
    from ._autoprompt import run_autoprompt
    return run_autoprompt(task, context)


SPECS = [MethodSpec(NAME, apply, run=run, generation=False, searches_template=True,
                    options=AutoPromptOptions,
                    description="gradient-guided search for the template's trigger words "
                                "(AutoPrompt); writes found.prompt")]

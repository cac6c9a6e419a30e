"""`method cot`: zero-shot chain of thought for causal models (Kojima et al. 2022). Stage one
generates a rationale after the reasoning trigger; stage two appends the answer trigger and reads
the answer at the mask through the verbalizer. Evaluation only."""
from __future__ import annotations

from promptdsl.specs import MethodSpec, options_schema

SCHEMA = options_schema({
    "max_new_tokens": {"type": "integer", "minimum": 1, "default": 64,
                       "description": "length limit of the generated rationale"},
    "trigger": {"type": "string", "default": "Let's think step by step.",
                "description": "text after the input that starts the rationale"},
    "answer_trigger": {"type": "string", "default": "Therefore, the answer is",
                       "description": "text after the rationale, before the mask"},
})


def apply(model, options):
    """Nothing to change in the graph: `run` does the two-stage evaluation."""


def run(task, context):
    from ._cot import run_cot
    return run_cot(task, context)


SPECS = [MethodSpec("cot", apply, SCHEMA, "zero-shot chain of thought (causal models)",
                    trains=False, run=run)]

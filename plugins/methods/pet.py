"""`method pet` (Schick & Schütze 2021): one model per named template, their logits ensembled;
optionally distilled into one model on unlabelled data; `generations > 1` is iPET self-training."""
from __future__ import annotations

from promptdsl.specs import MethodSpec, options_schema

SCHEMA = options_schema({
    "templates": {"type": ["array", "null"], "items": {"type": "string"}, "minItems": 1,
                  "uniqueItems": True, "default": None, "x-refers": "templates",
                  "description": "names from the task's `templates` block (null: all of them)"},
    "distill": {"type": "boolean", "default": False,
                "description": "train one final model on the ensemble's soft labels over the "
                               "unlabelled data"},
    "weighting": {"enum": ["uniform", "accuracy"], "default": "uniform",
                  "description": "how the members' logits are averaged: equally, or weighted by "
                                 "each member's train accuracy before training (PET)"},
    "generations": {"type": "integer", "minimum": 1, "default": 1,
                    "description": "1: PET; N > 1: iPET, each generation trained on the train "
                                   "data plus unlabelled rows labelled by the others"},
})


def apply(model, options):
    """Each member is built and trained by `run`; on a single model pet changes nothing."""


def run(task, context):
    from ._pet import run_pet
    return run_pet(task, context)


SPECS = [MethodSpec("pet", apply, SCHEMA, "ensemble of templates (PET / iPET)", run=run)]

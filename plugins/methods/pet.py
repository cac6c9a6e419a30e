"""`method pet` (Schick & Schütze 2021): one model per named template, their logits ensembled;
optionally distilled into one model on unlabelled data; `generations > 1` is iPET self-training.
The run's checkpoint is the ensemble (or, with `distill`, the distilled model, the ensemble
beside it in ensemble/): `promptc eval` and `predict` use it like any other."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptdsl import MethodSpec
from promptdsl.options import option

NAME = "pet"


@dataclass
class PetOptions:
    templates: list[str] | None = option(
        None, "names from the task's `templates` block (null: all of them)", minItems=1,
        uniqueItems=True, refers="templates")
    distill: bool = option(False, "train one final model on the ensemble's soft labels over the "
                                  "unlabelled data")
    weighting: Literal["uniform", "accuracy"] = option(
        "uniform", "how the members' logits are averaged: equally, or weighted by each member's "
                   "train accuracy before training (PET)")
    generations: int = option(1, "1: PET; N > 1: iPET, each generation trained on the train data "
                                 "plus unlabelled rows labelled by the others", minimum=1,
                              maximum=100)


def apply(model, options):
    """Each member is built and trained by `run`; on a single model pet changes nothing."""


def run(task, context):
    from ._pet import run_pet
    return run_pet(task, context)


SPECS = [MethodSpec(NAME, apply, description="ensemble of templates (PET / iPET)", run=run,
                    generation=False,
                    options=PetOptions)]

"""`verbalizer rules` (PTR, Han et al. 2021): several named masks, each read through its own
set of answers, and one rule per class giving every mask its word:

    template: "{sentence} The [MASK:e1] {e1} is [MASK:rel] the [MASK:e2] {e2}."
    verbalizer rules {
      "Component-Whole(e1,e2)": e1 "component", rel "part of", e2 "whole"
      "Other": e1 "thing", rel "and", e2 "thing"
    }

A class's score sums its sub-prompts' log-probabilities: on a masked LM every mask is read in
one pass and each mask's words are normalised over its answers (`answers`, default the words
the rules give it); on a causal LM each class's filled sequence is scored (the masks may stand
anywhere in the template; every class of a row runs in one pass, the text before the first
mask once).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptdsl import VerbalizerSpec
from promptdsl.options import option

TAGGED = {"type": "object", "minProperties": 1, "maxProperties": 1,
          "additionalProperties": {"type": "string", "minLength": 1}}


@dataclass
class RulesOptions:
    multi_token: Literal["mean", "first", "max"] = option(
        "mean", "on a masked LM, how an answer split into several tokens is scored at its "
                "mask (a causal LM scores the whole filled sequence)")
    answers: list[dict] | None = option(
        None, "each mask's answers, tagged with the mask (`e1 \"cause\", e1 \"effect\", …`): "
              "the words its log-probabilities are normalised over on a masked LM; default: "
              "the words the rules give it", schema={"items": TAGGED})


def build(context):
    from ._rules import RuleVerbalizer
    return RuleVerbalizer(context)


SPECS = [VerbalizerSpec("rules", build, options=RulesOptions, reads_masks=True,
                        description="PTR: one word per named mask for each class, scores summed")]

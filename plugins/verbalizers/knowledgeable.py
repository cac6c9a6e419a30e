"""`verbalizer knowledgeable` (KPT, Hu et al. 2022): label words expanded from a knowledge source,
refined by frequency and relevance on unlabelled data, optionally calibrated, with learnable
per-word weights when the task trains."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptdsl import VerbalizerSpec
from promptdsl.options import AtMaskOptions, option


@dataclass
class KnowledgeableOptions(AtMaskOptions):
    expand: str | None = option(
        None, "a word-list file (one line per label in label order, words separated by commas; "
              "path relative to the .prompt file) or the name of a knowledge-source plugin "
              "(e.g. wordnet)", format="path")
    refine: list[Literal["frequency", "relevance"]] = option(
        [], "frequency: drop words the model rarely predicts on unlabelled data; relevance: "
            "drop words less related to their label than to others", uniqueItems=True)
    cutoff: float = option(0.5, "frequency refinement drops this fraction of each label's "
                                "expanded words: those the model predicts least often on "
                                "unlabelled data", minimum=0, maximum=1)
    max_words: int | None = option(None, "keep at most this many words per label (in list "
                                         "order)", minimum=1)
    learn_weights: bool = option(True, "train one weight per label word (when the method "
                                       "trains)")


def build(context):
    from ._knowledgeable import KnowledgeableVerbalizer
    return KnowledgeableVerbalizer(context)


SPECS = [VerbalizerSpec("knowledgeable", build, options=KnowledgeableOptions,
                        description="KPT: expanded, refined, calibrated label words")]

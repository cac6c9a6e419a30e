"""`verbalizer knowledgeable` (KPT, Hu et al. 2022): label words expanded from a knowledge source,
refined by frequency and relevance on unlabelled data, optionally calibrated, with learnable
per-word weights when the task trains."""
from __future__ import annotations

from promptdsl.specs import VerbalizerSpec

from ._options import kind_schema

SCHEMA = kind_schema(
    expand={"type": ["string", "null"], "default": None, "format": "path",
            "description": "a word-list file (one line per label in label order, words separated "
                           "by commas; path relative to the .prompt file) or the name of a "
                           "knowledge-source plugin (e.g. wordnet)"},
    refine={"type": "array", "items": {"enum": ["frequency", "relevance"]}, "default": [],
            "uniqueItems": True,
            "description": "frequency: drop words the model rarely predicts on unlabelled data; "
                           "relevance: drop words less related to their label than to others"},
    cutoff={"type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
            "description": "frequency refinement drops this fraction of each label's expanded "
                           "words: those the model predicts least often on unlabelled data"},
    max_words={"type": ["integer", "null"], "minimum": 1, "default": None,
               "description": "keep at most this many words per label (in list order)"},
    learn_weights={"type": "boolean", "default": True,
                   "description": "train one weight per label word (when the method trains)"},
)


def build(context):
    from ._knowledgeable import KnowledgeableVerbalizer
    return KnowledgeableVerbalizer(context)


SPECS = [VerbalizerSpec("knowledgeable", build, SCHEMA,
                        "KPT: expanded, refined, calibrated label words")]

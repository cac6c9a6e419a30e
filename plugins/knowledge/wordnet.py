"""`expand: wordnet`: related words from WordNet (synonyms, hyponyms, derivations), read from the
database files of Debian's `wordnet-base` package (/usr/share/wordnet, or $WORDNET_DIR)."""
from __future__ import annotations

from promptdsl import KnowledgeSourceSpec


def expand(label_words: dict, options: dict) -> dict:
    from ._wordnet_db import related_words
    return {label: related_words(words) for label, words in label_words.items()}


SPECS = [KnowledgeSourceSpec("wordnet", expand,
                             "WordNet synonyms, hyponyms and derived forms (wordnet-base files)")]

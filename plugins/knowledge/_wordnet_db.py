"""A minimal reader of the WordNet 3.0 database files (the format documented in wndb(5)).

Only what label-word expansion needs: look a word up in `index.POS`, read its synsets from
`data.POS` by byte offset, follow a few pointer types one step.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from promptdsl.errors import PromptdslError

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
# synonyms come with the synset; these pointers add hyponyms, derived forms, similar
# adjectives, topic-domain members and pertainyms
FOLLOW = {"~", "~i", "+", "&", "-c", "\\"}
SENSES_PER_WORD = 3          # the most frequent senses; rarer ones mostly add noise
SEARCH_DIRS = ("/usr/share/wordnet", "/usr/local/share/wordnet", "/usr/share/wordnet/dict")


class KnowledgeSourceError(PromptdslError):
    """A knowledge source cannot be used here (e.g. its data is not installed)."""


@functools.lru_cache(maxsize=1)
def wordnet_dir() -> Path:
    candidates = [os.environ["WORDNET_DIR"]] if os.environ.get("WORDNET_DIR") else []
    for folder in (*candidates, *SEARCH_DIRS):
        if (Path(folder) / "index.noun").is_file():
            return Path(folder)
    raise KnowledgeSourceError(
        "the `wordnet` knowledge source needs the WordNet 3.0 database files, which are not "
        "installed: `apt-get install wordnet-base` (Debian/Ubuntu), or set WORDNET_DIR to a "
        "folder holding index.noun and data.noun; or give `expand:` a word-list file instead")


@functools.lru_cache(maxsize=4)
def _index(pos_name: str) -> dict:
    """lemma -> synset offsets, most frequent sense first."""
    table = {}
    with open(wordnet_dir() / f"index.{pos_name}", encoding="latin-1") as handle:
        for line in handle:
            if line.startswith(" "):
                continue  # licence header
            parts = line.split()
            n_senses, n_pointers = int(parts[2]), int(parts[3])
            start = 6 + n_pointers  # after the pointer symbols, sense_cnt and tagsense_cnt
            table[parts[0]] = parts[start:start + n_senses]
    return table


def _synset(pos_name: str, offset: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(lemmas, [(pointer symbol, offset, pos letter)]) of the synset at `offset`."""
    with open(wordnet_dir() / f"data.{pos_name}", "rb") as handle:
        handle.seek(int(offset))
        parts = handle.readline().decode("latin-1").split(" | ")[0].split()
    n_words = int(parts[3], 16)
    lemmas = [parts[4 + 2 * i] for i in range(n_words)]
    at = 4 + 2 * n_words
    n_pointers = int(parts[at])
    pointers = [(parts[at + 1 + 4 * i], parts[at + 2 + 4 * i], parts[at + 3 + 4 * i])
                for i in range(n_pointers)]
    return lemmas, pointers


# wndb(5) / morphy(7) detachment rules, enough to find "sports" under "sport"
SUFFIXES = {"noun": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
                     ("shes", "sh"), ("men", "man"), ("ies", "y")],
            "verb": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
                     ("ing", "e"), ("ing", "")],
            "adj": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")], "adv": []}


def _base_forms(key: str, pos_name: str) -> list[str]:
    """`key` itself if WordNet knows it, else its base forms by the morphy suffix rules."""
    index = _index(pos_name)
    if key in index:
        return [key]
    forms = [key[:-len(old)] + new for old, new in SUFFIXES[pos_name] if key.endswith(old)]
    return [form for form in dict.fromkeys(forms) if form in index]


def _clean(lemma: str) -> str | None:
    """WordNet lemma -> plain word; multi-word lemmas and adjective markers are dropped."""
    word = lemma.split("(")[0].lower()
    return None if "_" in word or not word.isalpha() else word


def related_words(words: list[str]) -> list[str]:
    """Words related to any of `words`, in discovery order, without the words themselves."""
    wordnet_dir()  # a clear error before anything else when the files are missing
    seen = {w.lower() for w in words}
    found = []

    def add(lemmas):
        for lemma in lemmas:
            word = _clean(lemma)
            if word and word not in seen:
                seen.add(word)
                found.append(word)

    for word in words:
        key = word.lower().replace(" ", "_")
        for pos_name in ("noun", "verb", "adj", "adv"):
            offsets = [o for base in _base_forms(key, pos_name) for o in _index(pos_name)[base]]
            for offset in offsets[:SENSES_PER_WORD]:
                lemmas, pointers = _synset(pos_name, offset)
                add(lemmas)
                for symbol, target, pos_letter in pointers:
                    if symbol in FOLLOW:
                        add(_synset(POS_FILES[pos_letter], target)[0])
    return found

"""Tokenization cache: rendered Features stored as safetensors, keyed by everything that decides
them — the data file's bytes, which rows (few-shot sampling), the template, the tokenizer, the
max length, the labels — so a second run over the same data does not tokenize again.

Location: `$PROMPTDSL_CACHE/tokenized`, else `$XDG_CACHE_HOME/promptdsl/tokenized`, else
`~/.cache/promptdsl/tokenized`. `PROMPTDSL_NO_CACHE=1` switches it off. A cache file that
cannot be read is ignored and rewritten.
"""
from __future__ import annotations

import hashlib
import json
import os
import weakref
from pathlib import Path

from ..cachefile import source_print, write_cache_file
from .features import Features

FORMAT_VERSION = 1
_file_hashes: dict = {}
_tokenizer_prints: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def cache_dir() -> Path:
    from .. import cache_dir as root
    return root("tokenized")


def enabled() -> bool:
    return not os.environ.get("PROMPTDSL_NO_CACHE")


def file_digest(path) -> str:
    """sha256 of the file's bytes (remembered per path, size and mtime within one process)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _file_hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _file_hashes[key] = digest.hexdigest()
    return _file_hashes[key]


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the tokenizer's full definition (vocabulary, merges, normalizer, specials)."""
    try:
        return _tokenizer_prints[tokenizer]
    except (KeyError, TypeError):
        pass
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    specials = json.dumps(getattr(tokenizer, "special_tokens_map", {}), sort_keys=True, default=str)
    digest = hashlib.sha256((body + specials).encode("utf-8")).hexdigest()
    try:
        _tokenizer_prints[tokenizer] = digest
    except TypeError:  # not weak-referenceable: just recompute next time
        pass
    return digest


def _code_print() -> str:
    """A hash of the data package's own source: a change to how rows are rendered or tokenized
    must never be answered from a cache written by the old code."""
    return source_print(tuple(sorted(Path(__file__).parent.glob("*.py"))))


def cache_key(parts: dict) -> str:
    text = json.dumps({"version": FORMAT_VERSION, "code": _code_print(), **parts},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _read(path: Path):
    """(arrays, metadata) of a cache file, or None when it is missing or unreadable."""
    if not enabled() or not path.exists():
        return None
    try:
        from safetensors import safe_open
        with safe_open(str(path), framework="numpy") as handle:
            return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata()
    except Exception:  # a damaged or foreign file: ignore it, it is rewritten
        return None


def _write(path: Path, arrays: dict, metadata: dict | None = None) -> None:
    if not enabled():
        return
    from safetensors.numpy import save_file
    # a read-only or full disk only costs the next run a re-tokenization
    write_cache_file(path, lambda tmp: save_file(arrays, str(tmp), metadata=metadata))


def load(key: str) -> Features | None:
    found = _read(cache_dir() / f"{key}.safetensors")
    if found is None:
        return None
    try:
        return Features.from_arrays(*found)
    except Exception:
        return None


def save(key: str, features: Features) -> None:
    _write(cache_dir() / f"{key}.safetensors", *features.to_arrays())


# Field texts are cached too, apart from any template: another template (a PET ensemble, a
# template sweep) over the same column reuses its tokens. Small inputs are not worth a file.
FIELD_MIN_ROWS = 1000


def field_token_ids(tokenizer, texts: list, tokenize) -> tuple:
    """`tokenize(tokenizer, texts)` -> (flat ids, lengths), from the cache when these exact
    texts were tokenized by this tokenizer before."""
    if len(texts) < FIELD_MIN_ROWS or not enabled():
        return tokenize(tokenizer, texts)
    digest = hashlib.sha256(tokenizer_fingerprint(tokenizer).encode("ascii"))
    digest.update("\x1f".join(texts).encode("utf-8", "surrogatepass"))
    path = cache_dir() / "fields" / f"{digest.hexdigest()[:32]}.safetensors"
    found = _read(path)
    if found is not None and {"ids", "lengths"} <= set(found[0]) \
            and len(found[0]["lengths"]) == len(texts):
        return found[0]["ids"], found[0]["lengths"]
    flat, lengths = tokenize(tokenizer, texts)
    _write(path, {"ids": flat, "lengths": lengths})
    return flat, lengths

"""Picking real vocabulary tokens to initialise trainable vectors (Lester et al.: sampled from the
5,000 most common tokens). Tokenizers list frequent tokens early, so we take the first 5,000 ids
whose token is a word piece of two or more letters (no specials, bytes or [unusedN] slots).
"""
from __future__ import annotations

import torch

COMMON = 5000
_MARKERS = ("Ġ", "▁", "##", "Ċ")


def _is_word_piece(token: str | None) -> bool:
    if not token:
        return False
    for marker in _MARKERS:
        token = token.replace(marker, "")
    return len(token) >= 2 and token.isalpha()


def common_token_ids(tokenizer, vocab_size: int) -> list[int]:
    """Up to 5,000 ids of frequent word-piece tokens, falling back to all non-special ids."""
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    limit = min(vocab_size, len(tokenizer)) if tokenizer is not None else vocab_size
    tokens = tokenizer.convert_ids_to_tokens(list(range(limit))) if tokenizer is not None else []
    ids = [i for i, tok in enumerate(tokens) if i not in special and _is_word_piece(tok)][:COMMON]
    if not ids:
        ids = [i for i in range(limit) if i not in special] or list(range(limit))
    return ids


def sample_token_ids(tokenizer, vocab_size: int, n: int, seed: int = 0) -> torch.Tensor:
    """`n` ids drawn (with replacement when needed) from the common tokens, reproducibly."""
    pool = torch.tensor(common_token_ids(tokenizer, vocab_size))
    generator = torch.Generator().manual_seed(seed)
    if n <= len(pool):
        picks = torch.randperm(len(pool), generator=generator)[:n]
    else:
        picks = torch.randint(len(pool), (n,), generator=generator)
    return pool[picks]

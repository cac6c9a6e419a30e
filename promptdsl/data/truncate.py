"""Truncation to max_length: cut only shortenable fields, the longest first, from their end."""
from __future__ import annotations

import numpy as np

from ..errors import DataError


def _cut(lengths: list, excess: int) -> list:
    """Shorten `lengths` by `excess` tokens in total, always from the currently longest
    (water-filling: the longest are brought down to the next level, ties share the cut)."""
    lengths = list(lengths)
    while excess > 0:
        top = max(lengths)
        tied = [i for i, v in enumerate(lengths) if v == top]
        below = max([v for v in lengths if v < top], default=0)
        room = (top - below) * len(tied)
        if room >= excess:
            each, extra = divmod(excess, len(tied))
            for rank, i in enumerate(tied):
                lengths[i] -= each + (1 if rank < extra else 0)
            return lengths
        for i in tied:
            lengths[i] = below
        excess -= room
    return lengths


def truncate_fields(lengths: np.ndarray, shortenable: list, const_length, max_length: int,
                    table) -> np.ndarray:
    """Per-row kept lengths of each field (columns of `lengths`) so that every row fits in
    `max_length` beside `const_length` tokens (an int, or one per row: a causal model's
    generation target is read in the same row and never cut). A row that cannot fit even with its shortenable fields emptied is a
    DataError naming its file and line."""
    totals = lengths.sum(axis=1) + const_length
    over = np.nonzero(totals > max_length)[0]
    if len(over) == 0:
        return lengths
    kept = lengths.copy()
    cut_cols = [j for j, s in enumerate(shortenable) if s]
    for r in over:
        excess = int(totals[r] - max_length)
        room = int(kept[r, cut_cols].sum()) if cut_cols else 0
        if room < excess:
            fixed = int(totals[r]) - room
            raise DataError(f"this row needs {fixed} tokens even with every shortenable field "
                            f"cut to nothing (the template's own text and tokens"
                            f"{', and the target' if np.ndim(const_length) else ''}), but "
                            f"max_length is {max_length}; raise train.max_length or drop "
                            "`keep` from a field", *table.where(r))
        kept[r, cut_cols] = _cut(kept[r, cut_cols].tolist(), excess)
    return kept

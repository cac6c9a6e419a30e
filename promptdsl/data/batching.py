"""Length-bucketed batches, so that dynamic padding wastes little.

Training: shuffle with the seed, cut into chunks of `chunk_batches` batches, sort each chunk by
length, cut it into batches, then shuffle the order of the batches — every epoch a different
but reproducible order, batches of similar lengths. Evaluation: sort everything by length
(longest first, so an out-of-memory shows at once); `restore_order` puts the predictions back
in the original row order.
"""
from __future__ import annotations

import numpy as np


def train_batches(lengths, batch_size: int, seed: int, epoch: int = 0,
                  chunk_batches: int = 50, drop_last: bool = False) -> list:
    """Lists of row indices for one training epoch."""
    rng = np.random.default_rng([int(seed), int(epoch)])
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    chunk = max(1, batch_size * chunk_batches)
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches = [b for b in batches if len(b) == batch_size]
    return [batches[i].tolist() for i in rng.permutation(len(batches))]


def eval_batches(lengths, batch_size: int) -> list:
    """Lists of row indices, longest rows first; every row exactly once."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def restore_order(batches: list, outputs: list) -> list:
    """Per-row outputs (concatenated in batch order) back in the original row order."""
    flat = [i for batch in batches for i in batch]
    result = [None] * len(flat)
    for i, value in zip(flat, outputs):
        result[i] = value
    return result

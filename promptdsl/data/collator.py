"""Batches from Features: dynamic padding to the longest row of the batch, vectorised with numpy
(left padding for causal models, right otherwise), as the dict of tensors of internals §2."""
from __future__ import annotations

import numpy as np
import torch

from .features import Features


def _gather(flat: np.ndarray, starts, lengths, width: int, left: bool, fill) -> np.ndarray:
    """[B, width] array of each row's slice of `flat`, padded with `fill`."""
    cols = np.arange(width)
    if left:
        shift = width - lengths
        valid = cols[None, :] >= shift[:, None]
        index = starts[:, None] + cols[None, :] - shift[:, None]
    else:
        valid = cols[None, :] < lengths[:, None]
        index = starts[:, None] + cols[None, :]
    out = np.full((len(starts), width), fill, dtype=flat.dtype)
    out[valid] = flat[index[valid]]
    return out


def collate(features: Features, indices=None) -> dict:
    """The batch of rows `indices` (any order; the batch keeps it; None: every row).

    Keys: input_ids, attention_mask, soft_ids, mask_pos, labels (when the split has labels),
    decoder_input_ids (seq2seq)."""
    indices = np.arange(len(features)) if indices is None else np.asarray(indices, np.int64)
    starts = features.offsets[indices]
    lengths = features.offsets[indices + 1] - starts
    width = int(lengths.max()) if len(indices) else 0
    left = features.padding_side == "left"
    input_ids = _gather(features.ids, starts, lengths, width, left, features.pad_id)
    soft_ids = _gather(features.soft, starts, lengths, width, left, -1)
    cols = np.arange(width)
    if left:
        attention = cols[None, :] >= (width - lengths)[:, None]
        mask_pos = features.mask_rel[indices] + (width - lengths)
    else:
        attention = cols[None, :] < lengths[:, None]
        mask_pos = features.mask_rel[indices]
    batch = {"input_ids": torch.from_numpy(input_ids),
             "attention_mask": torch.from_numpy(attention.astype(np.int64)),
             "soft_ids": torch.from_numpy(soft_ids.astype(np.int64)),
             "mask_pos": torch.from_numpy(np.ascontiguousarray(mask_pos, dtype=np.int64))}
    if features.decoder_input_ids is not None:
        prefix = torch.tensor(features.decoder_input_ids, dtype=torch.long)
        batch["decoder_input_ids"] = prefix.expand(len(indices), -1).contiguous()
        batch["mask_pos"] = torch.full((len(indices),), len(prefix) - 1, dtype=torch.long)
    if features.labels is not None:
        batch["labels"] = torch.from_numpy(features.labels[indices].copy())
    return batch


def padding_waste(features: Features, batches) -> float:
    """Pad tokens / all tokens over `batches` (lists of row indices)."""
    lengths = features.lengths
    real = padded = 0
    for batch in batches:
        lens = lengths[np.asarray(batch)]
        real += int(lens.sum())
        padded += int(lens.max()) * len(lens)
    return 1 - real / padded if padded else 0.0

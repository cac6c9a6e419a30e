"""Batches from Features: dynamic padding to the longest row of the batch, vectorised with numpy
(on the family's padding side: left where the last real token is read), as the dict of tensors
of internals §2. With a decoder prefix, `mask_pos` is its last step.

Generation targets (Features with targets) are teacher-forced: a causal model reads prompt and
target as one row (left-padded), a seq2seq decoder reads its prefix and the target
(right-padded, `decoder_attention_mask`); `target_labels` [B, T] holds at each position the
token it must predict next (-100 where none), aligned with the positions of the sequence that
holds the target."""
from __future__ import annotations

import numpy as np
import torch

from .features import Features, ragged_within

IGNORE = -100          # a position whose prediction is not trained (torch's ignore_index)


def _layout(starts, lengths, width: int, left: bool) -> tuple:
    """(valid [B, width] bool, flat indices of the valid cells) for padding rows to `width`."""
    cols = np.arange(width)
    shift = (width - lengths) if left else np.zeros_like(lengths)
    valid = (cols >= shift[:, None]) if left else (cols < lengths[:, None])
    index = (starts - shift)[:, None] + cols
    return valid, index[valid]


def collate(features: Features, indices=None) -> dict:
    """The batch of rows `indices` (any order; the batch keeps it; None: every row).

    Keys: input_ids, attention_mask, soft_ids, mask_pos, labels (when the split has labels),
    decoder_input_ids (seq2seq), mask_positions [B, masks] (Features with `masks_rel`)."""
    indices = np.arange(len(features)) if indices is None else np.asarray(indices, np.int64)
    starts = features.offsets[indices]
    lengths = features.offsets[indices + 1] - starts
    width = int(lengths.max()) if len(indices) else 0
    left = features.padding_side == "left"
    valid, take = _layout(starts, lengths, width, left)
    input_ids = np.full((len(indices), width), features.pad_id, dtype=np.int64)
    input_ids[valid] = features.ids[take]
    soft_ids = np.full((len(indices), width), -1, dtype=np.int64)
    soft_ids[valid] = features.soft[take]
    mask_pos = features.mask_rel[indices] + (width - lengths if left else 0)
    batch = {"input_ids": torch.from_numpy(input_ids),
             "attention_mask": torch.from_numpy(valid.astype(np.int64)),
             "soft_ids": torch.from_numpy(soft_ids),
             "mask_pos": torch.from_numpy(np.ascontiguousarray(mask_pos, dtype=np.int64))}
    if features.decoder_input_ids is not None:
        prefix = torch.tensor(features.decoder_input_ids, dtype=torch.long)
        batch["decoder_input_ids"] = prefix.expand(len(indices), -1).contiguous()
        batch["mask_pos"] = torch.full((len(indices),), len(prefix) - 1, dtype=torch.long)
    if features.masks_rel is not None:      # a verbalizer that reads several masks
        shift = (width - lengths if left else np.zeros_like(lengths))[:, None]
        batch["mask_positions"] = torch.from_numpy(
            np.ascontiguousarray(features.masks_rel[indices] + shift, dtype=np.int64))
    if features.labels is not None:
        batch["labels"] = torch.from_numpy(features.labels[indices])
    if features.has_targets:
        _add_targets(features, indices, batch)
    return batch


def _add_targets(features: Features, indices: np.ndarray, batch: dict) -> None:
    append_targets(batch, *features.targets_of(indices), features.pad_id)


def append_targets(batch: dict, target: np.ndarray, t_len: np.ndarray, pad_id: int) -> dict:
    """Teacher-force targets onto a collated prompt batch, in place: row i gets the next
    `t_len[i]` ids of the flat `target`. A batch with `decoder_input_ids` (seq2seq: the shared
    decoder prefix) gets prefix + target in the decoder; otherwise (causal, left-padded) the
    target continues the prompt row. Adds `target_labels`; tensors stay on their device."""
    device = batch["input_ids"].device
    t_len = np.asarray(t_len, np.int64)
    rows = np.repeat(np.arange(len(t_len)), t_len)
    within = ragged_within(t_len)
    if "decoder_input_ids" in batch:       # seq2seq: prefix + target in the decoder
        prefix = batch["decoder_input_ids"][0].cpu().numpy()
        width = len(prefix) + int(t_len.max(initial=0))
        ids = np.full((len(t_len), width), pad_id, np.int64)
        ids[:, :len(prefix)] = prefix
        cols = len(prefix) + within
        ids[rows, cols] = target
        labels = np.full_like(ids, IGNORE)
        labels[rows, cols - 1] = target
        grown = {"decoder_input_ids": ids, "decoder_attention_mask":
                 (np.arange(width) < (len(prefix) + t_len)[:, None]).astype(np.int64)}
    else:
        # causal: each prompt moves left by its row's target length, so every row still ends
        # at the last column
        p_len = batch["attention_mask"].sum(1).cpu().numpy()
        old_width = batch["input_ids"].shape[1]
        width = int((p_len + t_len).max(initial=0))
        p_rows, p_within = np.repeat(np.arange(len(t_len)), p_len), ragged_within(p_len)
        old_cols = old_width - p_len[p_rows] + p_within
        new_cols = width - t_len[p_rows] - p_len[p_rows] + p_within
        grown = {}
        for key, fill in (("input_ids", pad_id), ("soft_ids", -1), ("attention_mask", 0)):
            grown[key] = np.full((len(t_len), width), fill, np.int64)
            grown[key][p_rows, new_cols] = batch[key].cpu().numpy()[p_rows, old_cols]
        cols = width - t_len[rows] + within
        grown["input_ids"][rows, cols] = target
        grown["attention_mask"][rows, cols] = 1
        labels = np.full((len(t_len), width), IGNORE, np.int64)
        labels[rows, cols - 1] = target
        grown["mask_pos"] = width - t_len - 1
    grown["target_labels"] = labels
    batch.update({k: torch.from_numpy(np.ascontiguousarray(v)).to(device)
                  for k, v in grown.items()})
    return batch


def collate_many(features: Features, batches: list) -> list:
    """`[collate(features, b) for b in batches]`, built with one vectorised pass over all the
    batches instead of a dozen numpy calls per batch (which dominate for small batches): every
    batch is padded into one shared buffer and handed out as views."""
    if not batches:
        return []
    sizes = np.fromiter(map(len, batches), dtype=np.int64, count=len(batches))
    if sizes.min() == 0 or features.has_targets or features.masks_rel is not None:
        return [collate(features, b) for b in batches]
    rows = np.concatenate([np.asarray(b, np.int64) for b in batches])
    starts = features.offsets[rows]
    lengths = features.offsets[rows + 1] - starts
    first = np.zeros(len(batches), np.int64)
    np.cumsum(sizes[:-1], out=first[1:])
    widths = np.maximum.reduceat(lengths, first)
    row_width = np.repeat(widths, sizes)
    cell_start = np.zeros(len(rows), np.int64)            # where each padded row begins
    np.cumsum(row_width[:-1], out=cell_start[1:])
    left = features.padding_side == "left"
    shift = row_width - lengths if left else np.zeros_like(lengths)
    # one cell per real token: ragged aranges, no Python loop
    within = ragged_within(lengths)
    cells = np.repeat(cell_start + shift, lengths) + within
    take = np.repeat(starts, lengths) + within
    total = int(row_width.sum())
    input_ids = np.full(total, features.pad_id, np.int64)
    input_ids[cells] = features.ids[take]
    soft_ids = np.full(total, -1, np.int64)
    soft_ids[cells] = features.soft[take]
    attention = np.zeros(total, np.int64)
    attention[cells] = 1
    mask_pos = features.mask_rel[rows] + shift
    shapes = list(zip(sizes.tolist(), widths.tolist()))
    cells_per_batch = (sizes * widths).tolist()
    # torch.split hands out all the views in one call
    ids_parts, attention_parts, soft_parts = (
        torch.from_numpy(a).split(cells_per_batch) for a in (input_ids, attention, soft_ids))
    row_sizes = sizes.tolist()
    mask_parts = torch.from_numpy(mask_pos).split(row_sizes)
    label_parts = torch.from_numpy(features.labels[rows]).split(row_sizes) \
        if features.labels is not None else None
    prefix = None
    if features.decoder_input_ids is not None:
        prefix = torch.tensor(features.decoder_input_ids, dtype=torch.long)
    out = []
    for b, shape in enumerate(shapes):
        batch = {"input_ids": ids_parts[b].view(shape),
                 "attention_mask": attention_parts[b].view(shape),
                 "soft_ids": soft_parts[b].view(shape),
                 "mask_pos": mask_parts[b]}
        if prefix is not None:
            batch["decoder_input_ids"] = prefix.expand(shape[0], -1).contiguous()
            batch["mask_pos"] = torch.full((shape[0],), len(prefix) - 1, dtype=torch.long)
        if label_parts is not None:
            batch["labels"] = label_parts[b]
        out.append(batch)
    return out


def padding_waste(features: Features, batches) -> float:
    """Pad tokens / all tokens over `batches` (lists of row indices)."""
    lengths = features.lengths
    real = padded = 0
    for batch in batches:
        lens = lengths[np.asarray(batch)]
        real += int(lens.sum())
        padded += int(lens.max()) * len(lens)
    return 1 - real / padded if padded else 0.0

"""All candidates of a row in ONE sequence (causal LMs): the row's text before its first
insertion point, then every candidate's part one after another, each attending to that
beginning and to itself only (a block attention mask, position ids continuing the beginning).
The beginning runs once per row with gradients, nothing is copied per candidate, and the
candidates' scores equal those of one filled row per candidate (`filled.filled_batch`).

Whether a backbone honours a custom 4D attention mask and position ids is not assumed: the
first packed read of a model is compared with the filled rows, and a model whose results
differ keeps the filled path (`PromptModel._packs`).
"""
from __future__ import annotations

import torch

TOLERANCE = 1e-3      # log-probabilities of packed and filled rows agree within this


def packed_batch(batch: dict, fills, points: torch.Tensor) -> tuple | None:
    """(batch [B, L] with `position_ids` and `block` [B, L] (-1: the shared beginning, c: a
    token of candidate c, -2: padding), read columns [N], rows [N], gold [N], pair [N] = row*C+c)
    or None when a row has nothing before its first insertion point."""
    ids, attention = batch["input_ids"], batch["attention_mask"]
    soft = batch.get("soft_ids")
    rows, width = ids.shape
    count, masks = fills.lengths.shape
    starts = (width - attention.sum(1)).tolist()
    points = points.tolist()
    words = [[fills.ids[c, m, :int(fills.lengths[c, m])].tolist() for m in range(masks)]
             for c in range(count)]
    seqs, reads = [], []
    for b in range(rows):
        s = starts[b]
        real = ids[b, s:].tolist()
        real_soft = soft[b, s:].tolist() if soft is not None else [-1] * len(real)
        at = [p - s for p in points[b]]
        if at[0] < 1:
            return None
        seq = list(zip(real[:at[0]], real_soft[:at[0]], range(at[0]), [-1] * at[0]))
        for c in range(count):
            # the column whose prediction is the next token, and that token's position id
            previous, position = at[0] - 1, at[0]
            for m in range(masks):
                for token in words[c][m]:
                    reads.append((b, previous, token, b * count + c))
                    seq.append((token, -1, position, c))
                    previous, position = len(seq) - 1, position + 1
                if m + 1 < masks:                     # the row's text up to the next mask
                    for j in range(at[m], at[m + 1]):
                        seq.append((real[j], real_soft[j], position, c))
                        previous, position = len(seq) - 1, position + 1
        seqs.append(seq)
    length = max(len(s) for s in seqs)
    device = ids.device
    out_ids = torch.zeros(rows, length, dtype=torch.long)
    out_soft = torch.full((rows, length), -1, dtype=torch.long)
    out_pos = torch.zeros(rows, length, dtype=torch.long)
    block = torch.full((rows, length), -2, dtype=torch.long)
    for b, seq in enumerate(seqs):        # right padding: explicit positions and mask
        if seq:
            t, sf, p, g = zip(*seq)
            n = len(seq)
            out_ids[b, :n], out_soft[b, :n] = torch.tensor(t), torch.tensor(sf)
            out_pos[b, :n], block[b, :n] = torch.tensor(p), torch.tensor(g)
    packed = {"input_ids": out_ids.to(device), "soft_ids": out_soft.to(device),
              "attention_mask": (block > -2).long().to(device),
              "position_ids": out_pos.to(device), "block": block.to(device)}
    for key in ("prompt_index",):
        if key in batch:
            packed[key] = batch[key]
    r, col, gold, pair = (torch.tensor(x, dtype=torch.long, device=device)
                          for x in zip(*reads))
    return packed, r, col, gold, pair


def block_mask(block: torch.Tensor, dtype) -> torch.Tensor:
    """[B, 1, L, L] additive mask: a token sees the earlier tokens of the shared beginning and
    of its own candidate; a padding position sees itself (no row of the mask is empty)."""
    length = block.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=block.device).tril()
    query, key = block[:, :, None], block[:, None, :]
    allowed = causal & (key == -1) & (query > -2)
    allowed |= causal & (key == query) & (query >= 0)
    allowed |= torch.eye(length, dtype=torch.bool, device=block.device)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=block.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


def packed_log_probs(model, batch: dict, fills, points: torch.Tensor):
    """[B, C] as `filled.filled_log_probs`, in one packed backbone pass; None when the rows
    cannot be packed (nothing before the first insertion point)."""
    from .backbone_read import _project
    from .filled import summed_log_probs
    made = packed_batch(batch, fills, points)
    if made is None:
        return None
    packed, rows, columns, gold, pair = made
    kwargs = model.backbone_kwargs(packed)
    kwargs["attention_mask"] = block_mask(packed["block"], kwargs["inputs_embeds"].dtype)
    kwargs["position_ids"] = packed["position_ids"]
    logits, _ = _project(model, kwargs, rows, columns)
    return summed_log_probs(logits, gold, pair, batch["input_ids"].shape[0],
                            fills.lengths.shape[0])

"""Candidates scored as filled sequences on a causal LM (LM scoring).

A candidate gives words for one or more insertion points of each row: a label word at the end of
the prompt (`multi_token: sequence`, the generation verbalizer), or one word per mask of the
template (PTR's rules, where the masks stand anywhere). Every (row, candidate) pair becomes one
row of a new left-padded batch — the row's tokens with the candidate's words put in — and the
candidate's score is the sum of its words' log-probabilities, each token predicted from the
position before it. All pairs run in one backbone read; the part of each row before its first
insertion point is the same for all of its candidates, and is computed once: all candidates of a
row packed into one sequence (`packed`), or, where a backbone does not take that, one filled row
per pair after the beginning's key/value states (`backbone_read._shared_heads`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Fills:
    """The words of C candidates at M insertion points: `ids` [C, M, K] (padded), `lengths`
    [C, M] (0: nothing goes in there)."""
    ids: torch.Tensor
    lengths: torch.Tensor

    @classmethod
    def of(cls, words: list) -> "Fills":
        """`words[c][m]`: the token ids candidate c puts in at point m."""
        count, points = len(words), len(words[0]) if words else 0
        width = max((len(w) for c in words for w in c), default=0)
        ids = torch.zeros(count, points, max(1, width), dtype=torch.long)
        lengths = torch.zeros(count, points, dtype=torch.long)
        for c, candidate in enumerate(words):
            for m, tokens in enumerate(candidate):
                ids[c, m, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
                lengths[c, m] = len(tokens)
        return cls(ids, lengths)

    @classmethod
    def at_end(cls, flat, lengths) -> "Fills":
        """One insertion point: sequence s is the next `lengths[s]` ids of `flat`."""
        out, start = [], 0
        for n in [int(x) for x in lengths]:
            out.append([[int(t) for t in flat[start:start + n]]])
            start += n
        return cls.of(out)

    def to(self, device) -> "Fills":
        return Fills(self.ids.to(device), self.lengths.to(device))


def filled_batch(batch: dict, fills: Fills, points: torch.Tensor, pad_id: int = 0) -> tuple:
    """(batch of B*C rows, pair [N], positions [N], gold [N]) for a left-padded causal
    `batch` [B, T] and insertion columns `points` [B, M] (ascending per row; T: after the last
    token): row b*C+c is row b with candidate c's words put in before each point's column; the N
    read pairs are the positions before every inserted token, `gold` that token, `pair` its
    row b*C+c."""
    ids = batch["input_ids"]
    device = ids.device
    fills = fills.to(device)
    rows, width = ids.shape
    count, masks = fills.lengths.shape
    points = points.to(device).long()
    total = fills.lengths.sum(1)                                    # [C]
    grow = int(total.max()) if count else 0
    shift = (grow - total)                                          # [C] extra left padding
    new_width = width + grow
    cols = torch.arange(width, device=device)
    # tokens of each mask inserted at or before column j push it right
    before = (points[:, None, :, None] <= cols[None, None, None, :]).long() * \
        fills.lengths[None, :, :, None]                             # [B, C, M, T]
    new_cols = cols + before.sum(2) + shift[None, :, None]          # [B, C, T]
    out = {}
    flat_rows = (torch.arange(rows, device=device)[:, None] * count +
                 torch.arange(count, device=device)[None, :])        # [B, C]
    index = flat_rows[:, :, None].expand(-1, -1, width)
    for key, fill in (("input_ids", pad_id), ("attention_mask", 0), ("soft_ids", -1)):
        if key not in batch:
            continue
        source = batch[key]
        grown = source.new_full((rows * count, new_width), fill)
        grown[index.reshape(-1), new_cols.reshape(-1)] = \
            source[:, None, :].expand(-1, count, -1).reshape(-1)
        out[key] = grown
    # the inserted words: candidate c's token k at mask m
    offsets = torch.cumsum(fills.lengths, 1) - fills.lengths        # [C, M] tokens before m
    k = torch.arange(fills.ids.shape[2], device=device)
    present = k[None, None, :] < fills.lengths[:, :, None]          # [C, M, K]
    c_idx, m_idx, k_idx = present.nonzero(as_tuple=True)
    word_col = points[:, m_idx] + offsets[c_idx, m_idx][None, :] + k_idx[None, :] + \
        shift[c_idx][None, :]                                        # [B, N']
    pair = flat_rows[:, c_idx]                                       # [B, N']
    gold = fills.ids[c_idx, m_idx, k_idx][None, :].expand(rows, -1)
    out["input_ids"][pair.reshape(-1), word_col.reshape(-1)] = gold.reshape(-1)
    if "attention_mask" in out:
        out["attention_mask"][pair.reshape(-1), word_col.reshape(-1)] = 1
    if "prompt_index" in batch:
        out["prompt_index"] = batch["prompt_index"].repeat_interleave(count, 0)
    pair, word_col, gold = pair.reshape(-1), word_col.reshape(-1), gold.reshape(-1)
    return out, pair, word_col - 1, gold


def filled_log_probs(model, batch: dict, fills: Fills, points: torch.Tensor) -> torch.Tensor:
    """[B, C]: the summed log-probability of each candidate's words in each row (see
    `filled_batch`), every pair in one read: packed into one sequence per row when the model
    takes it (`packed`), else one filled row per pair."""
    fills = fills.to(batch["input_ids"].device)
    if packs(model, batch, fills, points):
        from .packed import packed_log_probs
        scores = packed_log_probs(model, batch, fills, points)
        if scores is not None:
            return scores
    return filled_rows_log_probs(model, batch, fills, points)


def packs(model, batch: dict, fills: Fills, points: torch.Tensor) -> bool:
    """Whether the model's candidates run packed: a causal LM whose backbone call no method
    edits and that reads through `read_at` alone; the first time, a packed read of this batch
    is compared with the filled rows (a backbone that ignores custom masks keeps them)."""
    from . import prefix_cache
    if model.shared_reads is not None or not prefix_cache.runs_after_past(model):
        return False
    verdict = getattr(model, "_packs", None)
    if verdict is None:
        from .packed import TOLERANCE, packed_log_probs
        with torch.no_grad():
            probe = {k: (v[:2] if isinstance(v, torch.Tensor) and v.dim() and
                         v.shape[0] == batch["input_ids"].shape[0] else v)
                     for k, v in batch.items()}
            packed = packed_log_probs(model, probe, fills, points[:2])
            if packed is None:
                return False
            filled = filled_rows_log_probs(model, probe, fills, points[:2])
        verdict = bool(torch.isfinite(packed).all()) and \
            float((packed - filled).abs().max()) <= TOLERANCE
        model._packs = verdict
    return verdict


def filled_rows_log_probs(model, batch: dict, fills: Fills, points: torch.Tensor):
    """`filled_log_probs` with one filled row per (row, candidate) pair."""
    rows, count = batch["input_ids"].shape[0], fills.lengths.shape[0]
    grown, pair, positions, gold = filled_batch(batch, fills, points, model.renderer().pad_id)
    heads = first_points(points, batch["attention_mask"], count)
    logits, _ = model.read_at(grown, pair, positions, heads=heads)
    return summed_log_probs(logits, gold, pair, rows, count)


def summed_log_probs(logits, gold, pair, rows: int, count: int) -> torch.Tensor:
    """[rows, count]: the log-probability of each read's `gold` token under its `logits`
    [N, V], summed over the reads of each pair (`pair` [N] = row * count + candidate)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    token = logp.gather(1, gold.to(logp.device)[:, None]).squeeze(1)
    sums = token.new_zeros(rows * count).index_add_(0, pair.to(token.device), token)
    return sums.view(rows, count)


def first_points(points: torch.Tensor, attention: torch.Tensor, count: int):
    """(group [B*C], head length [B]): the rows of one original row form a group; the tokens
    before its first insertion point are the same in all of them (all but the last, whose
    prediction is read)."""
    width = attention.shape[1]
    start = width - attention.sum(1)
    head = (points[:, 0].to(start.device) - start - 1).clamp(min=0)
    group = torch.arange(points.shape[0], device=start.device).repeat_interleave(count)
    return group, head

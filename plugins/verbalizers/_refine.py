"""KPT's refinement of expanded label words (Hu et al. 2022, §3.3), on word probabilities that
the model predicts at the mask for unlabelled rows.

Both functions get `probs` [N, W]: each word's probability for N unlabelled rows, words of all
labels side by side; `owner` [W]: the label index of each word; `anchor` [W]: True for the words
the user wrote (never dropped: they define the label).
"""
from __future__ import annotations

import torch


def frequency_keep(probs: torch.Tensor, owner: torch.Tensor, anchor: torch.Tensor,
                   cutoff: float) -> torch.Tensor:
    """Drop, per label, the `cutoff` fraction of expanded words with the lowest prior (mean
    predicted probability): words the model almost never predicts only add noise."""
    prior = probs.mean(0)
    keep = torch.ones_like(anchor)
    for label in owner.unique().tolist():
        mine = (owner == label) & ~anchor
        n_drop = int(cutoff * int(mine.sum()))
        if n_drop == 0:
            continue
        candidates = mine.nonzero().squeeze(1)
        lowest = candidates[prior[candidates].argsort()[:n_drop]]
        keep[lowest] = False
    return keep


def relevance_keep(probs: torch.Tensor, owner: torch.Tensor, anchor: torch.Tensor,
                   n_labels: int) -> torch.Tensor:
    """Keep a word iff it is more related to its own label than to the others on average:
    r(v, y) = ρ(v, y) / mean_{y' ≠ y} ρ(v, y') ≥ 1, where ρ is the cosine similarity of the
    word's probability vector over the rows with that of the label's anchor words."""
    vectors = probs.T / probs.T.norm(dim=1, keepdim=True).clamp_min(1e-12)       # [W, N]
    anchors = torch.stack([vectors[(owner == y) & anchor].mean(0) for y in range(n_labels)])
    anchors = anchors / anchors.norm(dim=1, keepdim=True).clamp_min(1e-12)      # [L, N]
    rho = (vectors @ anchors.T).clamp_min(1e-12)                                 # [W, L]
    own = rho.gather(1, owner[:, None]).squeeze(1)
    others = (rho.sum(1) - own) / max(1, n_labels - 1)
    return anchor | (own >= others)

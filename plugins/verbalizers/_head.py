"""Shared pieces of the verbalizer kinds in this folder.

`LabelHead`: kinds that score labels directly (soft, proto) rather than through label-word
probabilities; calibration then works on the label distribution (Zhao et al.'s original form).
`keep_calibration`: resizes the calibration buffer for such kinds.
"""
from __future__ import annotations

import torch

from promptdsl.model import EPS, Verbalizer


def keep_calibration(verbalizer: Verbalizer, size: int) -> None:
    """Calibration over `size` entries (the base sizes it for label words): ones (no change)
    until the prepare phase measures it; saved with the model."""
    if verbalizer.needs_calibration:
        verbalizer.register_buffer("calibration", torch.ones(size, device=verbalizer.word_ids.device))


def persist(verbalizer: Verbalizer, *names: str) -> None:
    """Turn buffers the base class registers as derived (non-persistent) into saved state."""
    for name in names:
        verbalizer.register_buffer(name, getattr(verbalizer, name), persistent=True)


class LabelHead(Verbalizer):
    """Base for kinds whose `label_scores(mask_logits, mask_hidden)` gives [B, L] directly."""

    def label_scores(self, mask_logits: torch.Tensor, mask_hidden: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def word_scores(self, mask_logits: torch.Tensor, mask_hidden: torch.Tensor) -> torch.Tensor:
        """[B, L] the label words' scores of the manual pipeline (without calibration)."""
        return self.aggregate(self.normalize(self.project(mask_logits, mask_hidden)))

    def word_probabilities(self, mask_logits, mask_hidden) -> torch.Tensor:
        """What calibration averages: here the distribution over labels."""
        return torch.softmax(self.label_scores(mask_logits, mask_hidden).float(), dim=-1)

    def forward(self, mask_logits: torch.Tensor, mask_hidden: torch.Tensor) -> torch.Tensor:
        scores = self.label_scores(mask_logits, mask_hidden)
        if self.calibration is None:
            return scores
        return torch.log(self.calibrate(torch.softmax(scores.float(), dim=-1)) + EPS)

"""The `prompt_mixture` module (see prompt_mixture.py): K soft prompts over one template, each row
read once per prompt, the K label distributions mixed (Qin & Eisner 2021).

It is the PromptModel's `prompt_set` (promptdsl.model.prompt_model): `expand` repeats every
row K times, interleaved (row b's copies are rows bK … bK+K-1, copy k reads prompt k);
`tables` stacks prompt 0 (the model's own soft-token table) on the K-1 extra prompts held here;
`combine` turns the K copies' label scores into log p(y|x) = logsumexp_k(log w_k + log p_k(y|x)).
The copies of a row share its token ids, so on a causal LM with the text before the soft tokens
their cached beginning is computed once (promptdsl.model.prefix_cache).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from promptdsl.errors import ModelError

LEARNED, MEAN = "learned", "mean"


class PromptMixture(nn.Module):
    def __init__(self, extra: torch.Tensor, combine: str, soft_prompt):
        """`extra` [K-1, n_soft, H]: the starting embeddings of prompts 1 … K-1."""
        super().__init__()
        self.prompts = nn.Parameter(extra, requires_grad=True)
        count = extra.shape[0] + 1
        logits = torch.zeros(count, dtype=torch.float32, device=extra.device)
        if combine == LEARNED:   # softmax(0) = uniform: training starts from the mean
            self.logits = nn.Parameter(logits, requires_grad=True)
        else:                    # fixed uniform weights: nothing to train or store
            self.register_buffer("logits", logits, persistent=False)
        self.combine_mode = combine
        # a plain reference (not a submodule: its parameters belong to the PromptModel) to
        # reach its `encoder`, which P-tuning may set after this method was applied
        self._soft_prompt = (soft_prompt,)

    @property
    def count(self) -> int:
        return self.prompts.shape[0] + 1

    def weights(self) -> torch.Tensor:
        """[K] the mixture weights (they sum to 1)."""
        return torch.softmax(self.logits.float(), 0)

    def expand(self, batch: dict) -> dict:
        """The batch with every row repeated K times, interleaved, and "prompt_index" [B·K];
        "labels" stays one per original row."""
        rows = batch["input_ids"].shape[0]
        count = self.count
        out = {}
        for key, value in batch.items():
            per_row = isinstance(value, torch.Tensor) and value.dim() and \
                value.shape[0] == rows and key != "labels"
            out[key] = value.repeat_interleave(count, 0) if per_row else value
        device = batch["input_ids"].device
        out["prompt_index"] = torch.arange(count, device=device).repeat(rows)
        return out

    def tables(self, own: torch.Tensor) -> torch.Tensor:
        """[K, n_soft, H]: prompt 0 is `own` (the soft prompt's encoded table), then the extra
        prompts through the same encoder."""
        if self.prompts.shape[1] != own.shape[0]:
            raise ModelError(
                f"prompt_mixture: the soft-token table has {own.shape[0]} rows, its prompts "
                f"{self.prompts.shape[1]}: a method after it added soft tokens; put "
                "`method prompt_mixture` after the methods that add soft tokens")
        encoder = self._soft_prompt[0].encoder
        extra = [encoder(prompt).to(own.dtype) for prompt in self.prompts]
        return torch.stack([own, *extra])

    def combine(self, scores: torch.Tensor, batch: dict) -> torch.Tensor:
        """[B, L] log-probabilities of the mixture from the K copies' scores [B·K, L]
        (cross-entropy over them is the mixture's negative log-likelihood)."""
        return mix(scores, F.log_softmax(self.logits.float(), 0))


def mix(scores: torch.Tensor, log_weights: torch.Tensor) -> torch.Tensor:
    """log Σ_k w_k softmax(scores of copy k): scores [B·K, L] (row b's K copies adjacent),
    log_weights [K] -> [B, L]."""
    count = log_weights.shape[0]
    per_copy = F.log_softmax(scores.float(), -1).view(-1, count, scores.shape[-1])
    return torch.logsumexp(per_copy + log_weights.to(per_copy.device).view(1, count, 1), 1)

"""The soft-token table: one trainable embedding per soft token of the template.

`soft_prompt()` returns the [n_soft, H] embeddings the template's soft positions take;
`encoder` transforms the raw table first (identity by default; P-tuning puts an LSTM/MLP there).
"""
from __future__ import annotations

import torch
from torch import nn

from .template import RANDOM, VOCAB

VOCAB_SAMPLE = 5000   # Lester et al.: sample from the 5,000 most frequent tokens (BPE ids ~ rank)


class SoftPrompt(nn.Module):
    def __init__(self, hidden_size: int, dtype=torch.float32, device=None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(0, hidden_size, dtype=dtype, device=device))
        self.encoder: nn.Module = nn.Identity()

    @property
    def n_soft(self) -> int:
        return self.weight.shape[0]

    def forward(self) -> torch.Tensor:
        return self.encoder(self.weight)

    @torch.no_grad()
    def grow(self, inits: list, embeddings: torch.Tensor, special_ids=(),
             generator: torch.Generator | None = None) -> range:
        """Append one row per entry of `inits` (token id, "vocab" or "random")."""
        rows = range(self.n_soft, self.n_soft + len(inits))
        new = torch.empty(len(inits), self.weight.shape[1], dtype=self.weight.dtype,
                          device=self.weight.device)
        self._fill(new, inits, embeddings, special_ids, generator)
        self.weight = nn.Parameter(torch.cat([self.weight.detach(), new]),
                                   requires_grad=self.weight.requires_grad)
        return rows

    @torch.no_grad()
    def initialize(self, rows, init, embeddings: torch.Tensor, tokenizer=None, special_ids=(),
                   generator: torch.Generator | None = None) -> None:
        """Re-initialise `rows`: init is "vocab", "random", a list of token ids, or
        {"text": …} (tokens of the text, cut or repeated to fit; needs `tokenizer`)."""
        rows = list(rows)
        if isinstance(init, dict):
            ids = tokenizer(init["text"], add_special_tokens=False)["input_ids"]
            init = ids
        if isinstance(init, (list, tuple)):
            inits = [init[i % len(init)] for i in range(len(rows))]
        else:
            inits = [init] * len(rows)
        new = torch.empty(len(rows), self.weight.shape[1], dtype=self.weight.dtype,
                          device=self.weight.device)
        self._fill(new, inits, embeddings, special_ids, generator)
        self.weight[rows] = new

    def _fill(self, out, inits, embeddings, special_ids, generator) -> None:
        embeddings = embeddings.detach()
        if embeddings.device.type == "meta" or out.device.type == "meta":
            return
        embeddings = embeddings.to(out.device, out.dtype)
        vocab = self._vocab_pool(embeddings.shape[0], special_ids)
        std = float(embeddings.float().std())
        for i, init in enumerate(inits):
            if init == VOCAB:
                pick = torch.randint(len(vocab), (1,), generator=generator)
                out[i] = embeddings[vocab[pick]]
            elif init == RANDOM:
                out[i] = (torch.randn(out.shape[1], generator=generator) * std).to(out)
            else:
                out[i] = embeddings[int(init)]

    @staticmethod
    def _vocab_pool(size: int, special_ids) -> torch.Tensor:
        pool = torch.arange(min(size, VOCAB_SAMPLE))
        if special_ids:
            keep = ~torch.isin(pool, torch.as_tensor(sorted(special_ids)))
            pool = pool[keep] if keep.any() else pool
        return pool

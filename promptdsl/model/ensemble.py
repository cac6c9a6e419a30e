"""An ensemble of PromptModels over the same labels (PET's templates): each row is scored by
every member through its own template, and the label scores are averaged with fixed weights.

It has the surface the runtime needs from a model (`task`, `labels`, `device`, `to`, `eval`,
`row_scorer`, `predict`), so `promptc eval` and `promptc predict` use an ensemble checkpoint
exactly like a single model's.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ModelError


class Ensemble(nn.Module):
    def __init__(self, task: dict, members: dict, weights: list):
        super().__init__()
        if not members or len(weights) != len(members):
            raise ModelError("an ensemble needs one weight per member")
        self.task = task
        self.members = nn.ModuleDict(members)
        self.register_buffer("weights", torch.tensor([float(w) for w in weights]),
                             persistent=False)
        self.labels = [entry["label"] for entry in task["verbalizer"]["labels"]]
        for name, member in members.items():
            if [str(x) for x in member.labels] != [str(x) for x in self.labels]:
                raise ModelError(f"ensemble member `{name}` has other labels than the task")
        self.row_scorer = self.score_rows

    @property
    def device(self) -> torch.device:
        return next(iter(self.members.values())).device

    @staticmethod
    def combine(scores: list, weights) -> torch.Tensor:
        """The members' [N, L] label scores (one tensor each, in member order) averaged with
        `weights` (one per member): how an ensemble scores, during its run and after loading."""
        weights = torch.as_tensor(weights, dtype=torch.float32)
        return (torch.stack(scores) * weights[:, None, None]).sum(0)

    def score_rows(self, rows, **kwargs) -> tuple:
        """(weighted mean of the members' label scores [N, L], no extra columns)."""
        from .rows import score_rows
        return self.combine([score_rows(member, rows, **kwargs)[0]
                             for member in self.members.values()], self.weights.cpu()), {}

    def encode(self, rows, labels: bool | None = None):
        """Features through the first member's template (for label indices and checks)."""
        return next(iter(self.members.values())).encode(rows, labels=labels)

    def predict(self, texts_or_rows, batch_size: int | None = None) -> list:
        from .rows import predict_labels
        return predict_labels(self, texts_or_rows, batch_size)

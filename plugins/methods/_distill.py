"""PET's distillation: one model learns the ensemble's soft labels on unlabelled data
(KL divergence at temperature 2, as in Schick & Schütze 2021), through the runtime's Trainer
with a loss of its own (same optimizer, schedule, accumulation, clipping and validation)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPERATURE = 2.0


def distill(model, context, unlabeled, target_logits: torch.Tensor, validation=None) -> None:
    targets = (target_logits / TEMPERATURE).softmax(-1)

    def kl_loss(model, batch, indices):
        batch.pop("labels", None)
        logits = model(batch)["logits"].float()
        wanted = targets[torch.as_tensor(indices)].to(logits.device)
        return F.kl_div((logits / TEMPERATURE).log_softmax(-1), wanted,
                        reduction="batchmean") * TEMPERATURE ** 2

    context.echo(f"pet: distilling the ensemble into one model on {len(unlabeled)} rows")
    encoded = context.encode(model, unlabeled, "unlabeled")
    checked = context.encode(model, validation, "validation") if validation is not None else None
    result = context.trainer(model).train(encoded, checked, loss=kl_loss)
    context.log({"split": "unlabeled", "distill_steps": result.steps})

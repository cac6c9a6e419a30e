"""PET's distillation: one model learns the ensemble's soft labels on unlabelled data
(KL divergence at temperature 2, as in Schick & Schütze 2021)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from promptdsl.train.trainer import linear_schedule, make_optimizer, to_device

TEMPERATURE = 2.0


def distill(model, context, unlabeled, target_logits: torch.Tensor, validation=None) -> None:
    config = context.task["train"]
    encoded = context.encode(model, unlabeled, "unlabeled")
    batch_size = int(config["batch_size"])
    steps_per_epoch = encoded.num_batches(batch_size)
    total = int(config["max_steps"]) if config.get("max_steps") else \
        int(config["epochs"]) * steps_per_epoch
    optimizer = make_optimizer(model, config, context.device)
    schedule = linear_schedule(optimizer, math.ceil(float(config["warmup_ratio"]) * total), total)
    targets = (target_logits / TEMPERATURE).softmax(-1)
    model.to(context.device).train()
    step, loss = 0, torch.zeros(())
    context.echo(f"pet: distilling the ensemble into one model on {len(unlabeled)} rows")
    for epoch in range(math.ceil(total / steps_per_epoch)):
        for indices, batch in encoded.train_batches(batch_size, context.seed, epoch):
            batch = to_device(batch, context.device)
            batch.pop("labels", None)
            logits = model(batch)["logits"].float()
            wanted = targets[torch.as_tensor(indices)].to(logits.device)
            loss = F.kl_div((logits / TEMPERATURE).log_softmax(-1), wanted,
                            reduction="batchmean") * TEMPERATURE ** 2
            loss.backward()
            if config.get("max_grad_norm"):
                torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad],
                    float(config["max_grad_norm"]))
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step >= total:
                break
        if step >= total:
            break
    context.log({"split": "unlabeled", "distill_steps": step, "distill_loss": loss.item()})
    model.eval()

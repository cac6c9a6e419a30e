"""The training loop: AdamW over the trainable parameters only, linear warmup and decay,
gradient accumulation, clipping, bf16 autocast on CUDA, evaluation every N steps with early
stopping, and the best trainable tensors kept in memory.

The trainer knows batches, not files: it gets `EncodedSplit`s (see `promptdsl.train.splits`)."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ..errors import ModelError
from .metrics import compute_metrics, is_better


@dataclass
class EvalResult:
    metrics: dict                      # accuracy, macro_f1, per_label_f1, the task metric, loss
    predictions: list                  # label values, one per example
    probabilities: torch.Tensor        # [N, L] softmax over labels, CPU float32
    examples: int
    seconds: float

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class TrainResult:
    steps: int = 0
    epochs: float = 0.0
    examples: int = 0                  # examples seen (counting repeats over epochs)
    seconds: float = 0.0
    best_metrics: dict | None = None   # validation metrics at the best evaluation
    best_step: int | None = None
    stopped_early: bool = False
    evaluations: list = field(default_factory=list)

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else float("nan")


def trainable_parameters(model) -> list:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def make_optimizer(model, config: dict, device: torch.device) -> torch.optim.Optimizer:
    """AdamW over parameters with requires_grad only (frozen ones get no state); no weight decay
    on biases and norm weights (1-D tensors)."""
    named = trainable_parameters(model)
    if not named:
        methods = ", ".join(m["name"] for m in model.task.get("methods") or []) or "none"
        raise ModelError(f"nothing to train: no parameter requires grad after the methods "
                         f"({methods}); use method zero_shot to evaluate only")
    decay = [p for _, p in named if p.ndim >= 2]
    no_decay = [p for _, p in named if p.ndim < 2]
    groups = [g for g in ({"params": decay, "weight_decay": float(config["weight_decay"])},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    kwargs = {"lr": float(config["learning_rate"])}
    if device.type == "cuda":
        kwargs["fused"] = True
    return torch.optim.AdamW(groups, **kwargs)


def linear_schedule(optimizer, warmup_steps: int, total_steps: int):
    """Linear warmup from 0 to the learning rate, then linear decay to 0 at `total_steps`."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
            for k, v in batch.items()}


class Trainer:
    """Trains and evaluates one PromptModel. `log(record)` receives one dict per evaluation
    (the run directory appends it to metrics.jsonl)."""

    def __init__(self, model, task: dict, device: torch.device, *, autocast_dtype=None,
                 log=None, progress: bool = True):
        self.model = model.to(device)
        self.task = task
        self.config = task["train"]
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.log = log or (lambda record: None)
        self.progress = progress
        self.labels = list(model.labels)
        self.metric = task.get("metric") or "accuracy"

    # ---------------------------------------------------------------- evaluation
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    @torch.no_grad()
    def scores(self, split, desc: str = "eval") -> tuple:
        """(logits [N, L] in example order, summed loss or None) for an encoded split."""
        was_training = self.model.training
        self.model.eval()
        chunks, order, loss_sum, n_loss = [], [], 0.0, 0
        batches = split.eval_batches(int(self.config.get("eval_batch_size") or
                                         self.config["batch_size"]))
        for indices, batch in tqdm(batches, desc=desc, leave=False, disable=not self.progress,
                                   unit="batch"):
            batch = to_device(batch, self.device)
            with self._autocast():
                out = self.model(batch)
            chunks.append(out["logits"].float().cpu())
            order.extend(indices)
            if out.get("loss") is not None:
                loss_sum += float(out["loss"]) * len(indices)
                n_loss += len(indices)
        self.model.train(was_training)
        if not chunks:
            return torch.empty(0, len(self.labels)), None
        logits = torch.cat(chunks)
        restored = torch.empty_like(logits)
        restored[torch.as_tensor(order)] = logits
        return restored, (loss_sum / n_loss if n_loss else None)

    def evaluate(self, split, desc: str = "eval") -> EvalResult:
        start = time.perf_counter()
        logits, loss = self.scores(split, desc)
        seconds = time.perf_counter() - start
        predicted = [self.labels[i] for i in logits.argmax(-1).tolist()]
        metrics = {}
        if split.has_labels:
            gold = [self.labels[i] for i in split.label_indices]
            metrics = compute_metrics(gold, predicted, self.labels, self.metric)
        if loss is not None:
            metrics["loss"] = loss
        return EvalResult(metrics, predicted, logits.softmax(-1), len(split), seconds)

    # ---------------------------------------------------------------- training
    def _snapshot(self) -> dict:
        return {n: p.detach().to("cpu", copy=True) for n, p in trainable_parameters(self.model)}

    def _restore(self, snapshot: dict) -> None:
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in snapshot.items():
                params[name].copy_(value.to(params[name].device))

    def train(self, train_split, eval_split=None) -> TrainResult:
        cfg = self.config
        batch_size = int(cfg["batch_size"])
        accumulation = max(1, int(cfg.get("grad_accumulation") or 1))
        batches_per_epoch = train_split.num_batches(batch_size)
        steps_per_epoch = max(1, math.ceil(batches_per_epoch / accumulation))
        total_steps = int(cfg["max_steps"]) if cfg.get("max_steps") else \
            int(cfg["epochs"]) * steps_per_epoch
        epochs = math.ceil(total_steps / steps_per_epoch)
        eval_every = int(cfg["eval_every"]) if cfg.get("eval_every") else None
        patience = cfg.get("early_stopping")
        max_norm = cfg.get("max_grad_norm")

        optimizer = make_optimizer(self.model, cfg, self.device)
        scheduler = linear_schedule(optimizer, math.ceil(float(cfg["warmup_ratio"]) * total_steps),
                                    total_steps)
        params = [p for _, p in trainable_parameters(self.model)]
        result = TrainResult()
        best_value, best_snapshot, bad_evals = None, None, 0
        start = time.perf_counter()
        self.model.train()

        def run_evaluation(epoch_done: float) -> bool:
            """Evaluate, log, keep the best; True when early stopping says stop."""
            nonlocal best_value, best_snapshot, bad_evals
            record = {"step": result.steps, "epoch": round(epoch_done, 4),
                      "train_loss": float(running_loss) / max(1, running_batches),
                      "learning_rate": scheduler.get_last_lr()[0]}
            if eval_split is None:
                self.log({**record, "split": "train"})
                result.evaluations.append(record)
                return False
            evaluation = self.evaluate(eval_split, desc="validation")
            value = evaluation.metrics.get(self.metric)
            improved = value is not None and is_better(self.metric, value, best_value)
            record.update({"split": "validation", **evaluation.metrics, "best": improved})
            self.log(record)
            result.evaluations.append(record)
            if improved:
                best_value, best_snapshot, bad_evals = value, self._snapshot(), 0
                result.best_metrics, result.best_step = evaluation.metrics, result.steps
            else:
                bad_evals += 1
            return bool(patience) and bad_evals >= int(patience)

        bar = tqdm(total=total_steps, desc="train", disable=not self.progress, unit="step")
        running_loss, running_batches, stop = 0.0, 0, False
        for epoch in range(epochs):
            batches = train_split.train_batches(batch_size, seed=int(cfg["seed"]), epoch=epoch)
            optimizer.zero_grad(set_to_none=True)
            epoch_done = float(epoch)
            for number, (indices, batch) in enumerate(batches):
                batch = to_device(batch, self.device)
                with self._autocast():
                    loss = self.model(batch)["loss"]
                (loss / accumulation).backward()
                running_loss += loss.detach()  # a tensor: no device sync per step
                running_batches += 1
                result.examples += len(indices)
                last_in_epoch = number == batches_per_epoch - 1
                if (number + 1) % accumulation and not last_in_epoch:
                    continue
                if max_norm:
                    torch.nn.utils.clip_grad_norm_(params, float(max_norm))
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                result.steps += 1
                bar.update(1)
                if self.progress:  # reading the loss syncs the device: only for the bar
                    bar.set_postfix(loss=f"{float(running_loss) / running_batches:.4f}")
                epoch_done = epoch + (number + 1) / batches_per_epoch
                if eval_every and result.steps % eval_every == 0:
                    stop = run_evaluation(epoch_done)
                    running_loss, running_batches = 0.0, 0
                if stop or result.steps >= total_steps:
                    break
            result.epochs = round(epoch_done, 4)
            if not eval_every and not stop:
                stop = run_evaluation(epoch_done)
                running_loss, running_batches = 0.0, 0
            if stop or result.steps >= total_steps:
                break
        bar.close()
        if eval_every and result.steps % eval_every and not stop:
            run_evaluation(result.epochs)  # the steps after the last periodic evaluation
        result.stopped_early = stop
        result.seconds = time.perf_counter() - start
        if best_snapshot is not None:
            self._restore(best_snapshot)
        self.model.eval()
        return result

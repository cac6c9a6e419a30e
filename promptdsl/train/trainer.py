"""The training loop: AdamW over the trainable parameters only, warm-up then `train.schedule`
(linear, constant or cosine), gradient accumulation, clipping, bf16 autocast on CUDA,
evaluation every N steps with early stopping, and the best trainable tensors kept in memory.

The trainer knows batches, not files: it gets `EncodedSplit`s (see `promptdsl.train.splits`)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..errors import ModelError
from ..model.rows import autocast_context, score_rows, to_device
from .metrics import compute_metrics, is_better


@dataclass
class EvalResult:
    metrics: dict                      # accuracy, macro_f1, per_label_f1, the task metric, loss
    predictions: list                  # label values, one per example
    probabilities: torch.Tensor        # [N, L] softmax over labels, CPU float32
    examples: int
    seconds: float
    extras: dict = field(default_factory=dict)   # more per-row columns (e.g. a rationale)

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else float("nan")


def result_from_logits(logits: torch.Tensor, labels: list, gold: list | None, metric: str,
                       seconds: float = 0.0, extras: dict | None = None) -> EvalResult:
    """Predictions, probabilities and (with gold labels) metrics from [N, L] label scores."""
    predicted = [labels[i] for i in logits.argmax(-1).tolist()]
    metrics = compute_metrics(gold, predicted, labels, metric) if gold is not None else {}
    return EvalResult(metrics, predicted, logits.float().softmax(-1), len(predicted), seconds,
                      dict(extras or {}))


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
        methods = ", ".join(m["name"] for m in model.task["methods"]) or "none"
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


def make_schedule(optimizer, config: dict, total_steps: int):
    """`train.schedule` after a linear warm-up of `warmup_ratio` of the steps: `linear` decay
    to 0, `constant`, or `cosine` decay to 0 (transformers' lr_scheduler_type of the same
    names)."""
    warmup = math.ceil(float(config["warmup_ratio"]) * total_steps)
    kind = config["schedule"]

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        done = (step - warmup) / max(1, total_steps - warmup)
        if kind == "constant":
            return 1.0
        if kind == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, done))))
        return max(0.0, 1.0 - done)
    if kind not in ("linear", "constant", "cosine"):
        raise ModelError(f"unknown train.schedule `{kind}`; use linear, constant or cosine")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def total_steps(config: dict, batches_per_epoch: int) -> tuple[int, int]:
    """(optimizer steps in all, steps per epoch) for `train.epochs` or `train.max_steps`."""
    accumulation = int(config["grad_accumulation"])
    per_epoch = max(1, math.ceil(batches_per_epoch / accumulation))
    steps = int(config["max_steps"]) if config["max_steps"] else int(config["epochs"]) * per_epoch
    return steps, per_epoch


def default_loss(model, batch: dict, indices: list) -> torch.Tensor:
    return model(batch)["loss"]


class Trainer:
    """Trains and evaluates one PromptModel. `log(record)` receives one dict per evaluation
    (the run directory appends it to metrics.jsonl); `echo(text)` shows a line to the user
    (validation metrics after each evaluation)."""

    def __init__(self, model, task: dict, device: torch.device, *, autocast_dtype=None,
                 log=None, progress: bool = True, echo=None):
        self.model = model.to(device)
        self.task = task
        self.config = task["train"]
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.log = log or (lambda record: None)
        self.echo = echo or (lambda text: None)
        self.progress = progress
        self.labels = list(model.labels)
        self.metric = task["metric"]

    # ---------------------------------------------------------------- evaluation
    def scores(self, split, desc: str = "eval") -> tuple:
        """(logits [N, L] in row order, mean loss or None, extra columns) for an encoded split
        (the model's `row_scorer`, when a method set one, decides how rows are scored)."""
        logits, extras = score_rows(self.model, split.table, features=split.features,
                                    autocast=self.autocast_dtype, progress=self.progress,
                                    desc=desc)
        loss = None
        if split.has_labels and len(split):
            gold = torch.as_tensor(split.features.labels, dtype=torch.long)
            loss = float(F.cross_entropy(logits.float(), gold))
        return logits, loss, extras

    def evaluate(self, split, desc: str = "eval") -> EvalResult:
        start = time.perf_counter()
        logits, loss, extras = self.scores(split, desc)
        seconds = time.perf_counter() - start
        gold = [self.labels[i] for i in split.label_indices] if split.has_labels else None
        result = result_from_logits(logits, self.labels, gold, self.metric, seconds, extras)
        if loss is not None:
            result.metrics["loss"] = loss
        return result

    # ---------------------------------------------------------------- training
    def _snapshot(self) -> dict:
        return {n: p.detach().to("cpu", copy=True) for n, p in trainable_parameters(self.model)}

    def _restore(self, snapshot: dict) -> None:
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in snapshot.items():
                params[name].copy_(value.to(params[name].device))

    def train(self, train_split, eval_split=None, loss=None) -> TrainResult:
        """Train on `train_split`, evaluating on `eval_split` (validation) once per epoch or
        every `train.eval_every` steps and keeping the best trainable tensors. `loss(model,
        batch, indices) -> scalar` replaces the model's own loss (distillation uses it)."""
        cfg = self.config
        loss_of = loss or default_loss
        batch_size = int(cfg["batch_size"])
        accumulation = int(cfg["grad_accumulation"])
        batches_per_epoch = train_split.num_batches(batch_size)
        steps_total, steps_per_epoch = total_steps(cfg, batches_per_epoch)
        epochs = math.ceil(steps_total / steps_per_epoch)
        eval_every = int(cfg["eval_every"]) if cfg["eval_every"] else None
        patience = cfg["early_stopping"]
        max_norm = cfg["max_grad_norm"]

        optimizer = make_optimizer(self.model, cfg, self.device)
        scheduler = make_schedule(optimizer, cfg, steps_total)
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
                self.echo(_progress_line(record, {}, self.metric))
                return False
            evaluation = self.evaluate(eval_split, desc="validation")   # map_rows restores train mode
            value = evaluation.metrics.get(self.metric)
            improved = value is not None and is_better(self.metric, value, best_value)
            record.update({"split": "validation", **evaluation.metrics, "best": improved})
            self.log(record)
            result.evaluations.append(record)
            self.echo(_progress_line(record, evaluation.metrics, self.metric))
            if improved:
                best_value, best_snapshot, bad_evals = value, self._snapshot(), 0
                result.best_metrics, result.best_step = evaluation.metrics, result.steps
            else:
                bad_evals += 1
            return bool(patience) and bad_evals >= int(patience)

        bar = tqdm(total=steps_total, desc="train", disable=not self.progress, unit="step")
        running_loss, running_batches, stop = 0.0, 0, False
        for epoch in range(epochs):
            batches = train_split.train_batches(batch_size, seed=int(cfg["seed"]), epoch=epoch)
            optimizer.zero_grad(set_to_none=True)
            epoch_done = float(epoch)
            for number, (indices, batch) in enumerate(batches):
                batch = to_device(batch, self.device)
                with autocast_context(self.device, self.autocast_dtype):
                    step_loss = loss_of(self.model, batch, indices)
                (step_loss / accumulation).backward()
                running_loss += step_loss.detach()  # a tensor: no device sync per step
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
                if stop or result.steps >= steps_total:
                    break
            result.epochs = round(epoch_done, 4)
            if not eval_every and not stop:
                stop = run_evaluation(epoch_done)
                running_loss, running_batches = 0.0, 0
            if stop or result.steps >= steps_total:
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


def _progress_line(record: dict, metrics: dict, metric: str) -> str:
    """`epoch 1.00 step 12: train loss 0.6931, validation accuracy 75.00 loss 0.5123`."""
    text = f"epoch {record['epoch']:.2f} step {record['step']}: train loss {record['train_loss']:.4f}"
    if metrics:
        value = metrics.get(metric)
        shown = f"{100 * value:.2f}" if isinstance(value, float) and metric != "loss" else value
        text += f", validation {metric} {shown}"
        if "loss" in metrics:
            text += f" loss {metrics['loss']:.4f}"
    return text

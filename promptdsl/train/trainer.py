"""The trainer: AdamW over the trainable parameters only, warm-up then `train.schedule`
(linear, constant or cosine), evaluation and results. The loop itself (gradient accumulation,
clipping, bf16 autocast on CUDA, evaluation every N steps with early stopping, the best
trainable tensors kept in memory, resumable state, ranks) is `promptdsl.train.loop`.

The trainer knows batches, not files: it gets `EncodedSplit`s (see `promptdsl.train.splits`)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from ..errors import ModelError
from ..model.rows import score_rows
from .metrics import compute_metrics


@dataclass
class EvalResult:
    metrics: dict                      # accuracy, macro_f1, per_label_f1, the task metric, loss
    predictions: list                  # label values (generation: texts), one per example
    probabilities: torch.Tensor | None  # [N, L] softmax over labels, CPU float32 (generation: None)
    examples: int
    seconds: float
    extras: dict = field(default_factory=dict)   # more per-row columns (e.g. a rationale)
    # generation: the table row each prediction belongs to (the first row of its input);
    # None: predictions are the table's rows in order
    rows: list | None = None

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else float("nan")


def result_from_logits(logits: torch.Tensor, labels: list, gold: list | None, metric: str,
                       seconds: float = 0.0, extras: dict | None = None) -> EvalResult:
    """Predictions, probabilities and (with gold labels) metrics from [N, L] label scores.
    NaN scores are an error, never a score (argmax would quietly pick the first label)."""
    if logits.numel() and bool(torch.isnan(logits).any()):
        rows = torch.isnan(logits).any(-1).nonzero().flatten().tolist()
        raise NonFiniteLoss(f"the model gives NaN label scores for {len(rows)} of "
                            f"{len(logits)} rows (row {rows[0] + 1} first): its weights "
                            "diverged or a method broke the forward pass; no metrics reported")
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
                 log=None, progress: bool = True, echo=None, states=None):
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
        self.states = states          # a run's RunStates (resumable state), or None

    # ---------------------------------------------------------------- evaluation
    def scores(self, split, desc: str = "eval") -> tuple:
        """(logits [N, L] in row order, mean loss or None, extra columns) for an encoded split
        (the model's `row_scorer`, when a method set one, decides how rows are scored)."""
        if getattr(self.model, "generates", False):
            raise ModelError("a generation model has no label scores; use `evaluate`")
        logits, extras = score_rows(self.model, split.table, features=split.features,
                                    autocast=self.autocast_dtype, progress=self.progress,
                                    desc=desc)
        loss = None
        if split.has_labels and len(split):
            gold = torch.as_tensor(split.features.labels, dtype=torch.long)
            loss = float(F.cross_entropy(logits.float(), gold))
        return logits, loss, extras

    def evaluate(self, split, desc: str = "eval") -> EvalResult:
        """Metrics and predictions on an encoded split (a generation model generates: see
        promptdsl.train.generation)."""
        if getattr(self.model, "generates", False):
            from .generation import evaluate_generation
            return evaluate_generation(self, split, desc)
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
        batch, indices) -> scalar` (a mean over the batch's rows) replaces the model's own loss
        (distillation uses it); under several processes `model` is the DDP wrapper.

        With a run's `states`, a resumable state is saved every `train.save_every` steps (at
        the end of each epoch by default) and on SIGTERM/Ctrl-C; a resumed run continues from
        it. Under torchrun each rank trains on its share of every batch."""
        from .loop import TrainingLoop
        return TrainingLoop(self, train_split, eval_split, loss or default_loss).run()


class NonFiniteLoss(ModelError):
    """Training diverged: the loss (or the gradient) is NaN or infinite."""

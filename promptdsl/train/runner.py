"""One run of one task: compile, read and encode the data, train (unless the methods say
evaluate only), evaluate, and fill the run directory. `promptc train` is a thin shell over
`train_task`; a method with its own `run` (PET, chain of thought) gets a `RunContext` instead of
the standard loop."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DataError, PromptdslError
from . import build, splits
from .checkpoint import save_checkpoint
from .prepare import prepare_model
from .rundir import RunDir, RunDirError, default_run_dir
from .seeding import autocast_dtype, resolve_device, seed_everything
from .trainer import EvalResult, Trainer


def count_parameters(model) -> dict:
    total = trainable = 0
    for parameter in model.parameters():  # tied weights are yielded once
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    return {"trainable": trainable, "total": total}


def check_run_dir_free(path) -> None:
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RunDirError(f"{path}: run directory exists and is not empty; choose another --out "
                          "(nothing was written)")


@dataclass
class RunContext:
    """What a run hands to a method's own `run(task, context)`, and what the standard loop uses.

    - `task`, `device`, `rundir` (a RunDir), `progress`, `echo(text)`
    - `build_model(task=None)`: a fresh PromptModel (methods applied) of `task` (default: this run's)
    - `table(split)`: the read Table of `train | validation | test | unlabeled` (train few-shot
      sampled when the task says so), or None
    - `encode(model, table, name)`: an EncodedSplit for `trainer(model).train/evaluate`
    - `trainer(model)`: a Trainer with this run's device, precision, seed and metrics log
    - `log(record)`: append one line to metrics.jsonl
    - `finish(model, result, split_name, table)`: write predictions.tsv and the checkpoint
    """
    task: dict
    device: torch.device
    rundir: RunDir
    progress: bool = True
    echo: object = print
    _tables: dict = field(default_factory=dict)
    checkpoint_bytes: int | None = None

    @property
    def seed(self) -> int:
        return int(self.task["train"]["seed"])

    def build_model(self, task: dict | None = None):
        seed_everything(self.seed)  # soft-token and head initialisation repeat with the seed
        return build.build_model(task or self.task)

    def table(self, split: str):
        if split not in self._tables:
            table = splits.read_split(self.task, split)
            self._tables[split] = splits.few_shot(self.task, table) if split == "train" else table
        return self._tables[split]

    def encode(self, model, table, name: str):
        return splits.EncodedSplit(name, model, table, labelled=False if name == "unlabeled"
                                   else True)

    def trainer(self, model) -> Trainer:
        return Trainer(model, self.task, self.device,
                       autocast_dtype=autocast_dtype(self.task["train"].get("precision"),
                                                     self.device),
                       log=self.log, progress=self.progress)

    def log(self, record: dict) -> None:
        self.rundir.append_metrics(record)

    def finish(self, model, result: EvalResult, table, split_name: str) -> None:
        write_predictions(self.rundir, model, table, result, self.task["data"]["label"])
        self.checkpoint_bytes = save_checkpoint(model, self.rundir.checkpoint_dir)


def write_predictions(rundir: RunDir, model, table, result: EvalResult, label_column) -> None:
    labels = [str(label) for label in model.labels]
    has_gold = label_column in table.columns
    header = ["line", *(["gold"] if has_gold else []), "prediction",
              *[f"p({label})" for label in labels]]
    rows = []
    for i, row in enumerate(table.rows):
        probs = result.probabilities[i].tolist()
        rows.append([table.lines[i], *([row[label_column]] if has_gold else []),
                     result.predictions[i], *probs])
    rundir.write_predictions(header, rows)


def _final_split(context: RunContext):
    for name in ("test", "validation"):
        table = context.table(name)
        if table is not None:
            return name, table
    raise DataError("the task has no data.test or data.validation to evaluate on",
                    context.task.get("file"))


def _open_run_dir(context: RunContext) -> None:
    context.rundir = RunDir.create(context.rundir.path)
    context.rundir.write_task(context.task)
    context.echo(f"run directory: {context.rundir.path}")


def train_task(task: dict, *, out=None, device: str | None = None, progress: bool = True,
               echo=print) -> dict:
    """Run `task` end to end; return the summary (also written to summary.json)."""
    started = time.perf_counter()
    run_path = Path(out) if out else default_run_dir(task["name"])
    check_run_dir_free(run_path)
    torch_device = resolve_device(device or task["train"].get("device"))
    methods = build.method_specs(task)
    custom = [spec for spec, _ in methods if spec.run is not None]
    will_train = build.trains(task)

    # read and encode everything before the run directory exists: bad data fails fast and
    # leaves nothing behind
    context = RunContext(task, torch_device, RunDir(run_path), progress, echo)
    for name in splits.SPLITS:
        context.table(name)
    if will_train and not custom and context.table("train") is None:
        raise DataError(f"method `{methods[-1][0].name}` trains, but the task has no data.train",
                        task.get("file"))
    final_name, final_table = _final_split(context)

    if custom:
        _open_run_dir(context)
        final_metrics = custom[0].run(task, context) or {}
        return _write_summary(context, {final_name: final_metrics}, None, None, started)

    model = context.build_model()
    prepare_model(model, context)  # demonstrations, verbalizer set-up, calibration
    encoded = {name: context.encode(model, table, name)
               for name, table in (("train", context.table("train")),
                                   ("validation", context.table("validation")),
                                   ("test", context.table("test")))
               if table is not None}
    _open_run_dir(context)
    trainer = context.trainer(model)
    train_result = None
    if will_train:
        train_result = trainer.train(encoded["train"], encoded.get("validation"))
    results = {}
    for name in ("validation", "test"):
        if name in encoded:
            if name == "validation" and train_result is not None and train_result.best_metrics:
                results[name] = None  # the restored best model's metrics: already measured
                continue
            results[name] = trainer.evaluate(encoded[name], desc=name)
    final = results[final_name] or trainer.evaluate(encoded[final_name], desc=final_name)
    context.log({"step": train_result.steps if train_result else 0, "split": final_name,
                 **final.metrics})
    context.finish(model, final, final_table, final_name)
    summary = {
        "task": task["name"],
        "test": results["test"].metrics if results.get("test") else None,
        "validation": (results["validation"].metrics if results.get("validation")
                       else train_result.best_metrics if train_result else None),
        "eval": {"split": final_name, "examples": final.examples,
                 "seconds": round(final.seconds, 3),
                 "examples_per_second": round(final.examples_per_second, 2)},
    }
    return _write_summary(context, summary, model, train_result, started)


def _write_summary(context: RunContext, summary: dict, model, train_result, started) -> dict:
    task = context.task
    full = {
        "task": task["name"],
        "file": task.get("file"),
        "model": task["model"],
        "methods": [m["name"] for m in task.get("methods") or []],
        "run_dir": str(context.rundir.path),
        "device": str(context.device),
        "precision": "bf16" if autocast_dtype(task["train"].get("precision"), context.device)
        else "fp32",
        "seed": context.seed,
        "shots": task["data"].get("shots"),
        "sample_seed": task["data"].get("sample_seed"),
        "metric": task.get("metric"),
        "test": summary.get("test"),
        "validation": summary.get("validation"),
        "eval": summary.get("eval"),
        "train": None if train_result is None else {
            "examples": len(context.table("train")), "steps": train_result.steps,
            "epochs": train_result.epochs, "seconds": round(train_result.seconds, 3),
            "examples_per_second": round(train_result.examples_per_second, 2),
            "best_step": train_result.best_step, "stopped_early": train_result.stopped_early},
        "parameters": count_parameters(model) if model is not None else None,
        "checkpoint_bytes": context.checkpoint_bytes,
        "wall_seconds": round(time.perf_counter() - started, 3),
    }
    context.rundir.write_summary(full)
    return full


__all__ = ["train_task", "RunContext", "count_parameters", "PromptdslError"]

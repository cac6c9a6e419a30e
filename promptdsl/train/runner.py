"""One run of one task: compile, read and encode the data, train (unless the methods say
evaluate only), evaluate, and fill the run directory. `promptc train` is a thin shell over
`train_task`; a method with its own `run` (PET) gets the same `RunContext` the standard loop uses.

Nothing is written before everything that can be checked has been: the run directory is created
the first time something is written to it, so an error while reading data, building models or
validating a method's options leaves nothing behind.

Resuming (`resume=True`) reopens a run directory whose process died or was stopped: the run is
replayed deterministically, finished training loops give back their saved tensors, the
interrupted one continues from its last state (promptdsl.train.state), and nothing already in
metrics.jsonl is written twice. Under torchrun every rank runs this; only rank 0 writes the run
directory (the others write to a temporary folder that is removed at the end).
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DataError
from ..model.params import count
from . import build, interrupt, splits
from ..model.prefix_cache import stats_of
from .checkpoint import save_checkpoint, save_ensemble
from .distributed import world
from .loggers import Loggers
from .memory import peak_memory
from .predictions import prediction_table
from .prepare import prepare_model
from .rundir import RunDir, RunDirError, check_free, default_run_dir, dumps, has_run_files
from .seeding import autocast_dtype, resolve_device, seed_everything
from .state import FOLDER as STATE_FOLDER
from .state import RunStates
from .trainer import EvalResult, Trainer


@dataclass
class RunContext:
    """What a run hands to a method's own `run(task, context)`, and what the standard loop uses
    (the public face is `promptdsl.runtime`; members are documented in docs/plugins.md)."""
    task: dict
    device: torch.device
    run_path: Path
    progress: bool = True
    echo: object = print
    _tables: dict = field(default_factory=dict)
    _rundir: RunDir | None = None
    checkpoint_bytes: int | None = None
    states: RunStates | None = None     # the resumable training states of this run
    _found: tuple | None = None         # (task, options) a prepare-phase search found
    loggers: Loggers | None = None      # experiment trackers (`train.log`), rank 0 only

    @property
    def seed(self) -> int:
        return int(self.task["train"]["seed"])

    @property
    def autocast(self):
        return autocast_dtype(self.task["train"]["precision"], self.device)

    @property
    def rundir(self) -> RunDir:
        """The run directory, created (with task.json) on first use."""
        if self._rundir is None:
            self._rundir = RunDir.create(self.run_path)
            self._rundir.write_task(self.task)
            self.echo(f"run directory: {self._rundir.path}")
            self._write_found()
        return self._rundir

    def found(self, task: dict, **options) -> None:
        """`found.prompt` (`write_found(task, run directory, **options)`; `task`: the IR of
        the model prepared), written once the run directory exists: it is created on the
        first write, after the prepare phase."""
        self._found = (task, options)
        if self._rundir is not None:
            self._write_found()

    def _write_found(self) -> None:
        if self._found is not None:
            from .found import write_found
            task, options = self._found
            self._found = None
            write_found(task, self._rundir.path, **options)

    def build_model(self, task: dict | None = None):
        """A fresh PromptModel (methods applied) of `task` (default: this run's), on the run's
        device; soft-token and head initialisation repeat with the seed."""
        from ..model.shared import exclusive
        with exclusive():        # models built in threads over one backbone take turns
            seed_everything(self.seed)
            return build.build_model(task or self.task).to(self.device)

    def prepare(self, model) -> None:
        """The prepare phase (demonstrations, verbalizer set-up, calibration) on this run's data."""
        prepare_model(model, train=self.table("train"), unlabeled=self.table("unlabeled"),
                      echo=self.echo, found=self.found)

    def table(self, split: str):
        """The read Table of `train | validation | test | unlabeled` (train few-shot sampled,
        every split cut to its row limit), or None."""
        if split not in self._tables:
            table = splits.read_split(self.task, split)
            self._tables[split] = splits.few_shot(self.task, table) if split == "train" else table
        return self._tables[split]

    def read_all(self) -> None:
        """Read every split now, so bad data fails before anything is written."""
        for name in splits.SPLITS:
            self.table(name)

    def final_split(self) -> tuple:
        """(name, Table) of the split a run is scored on: test, else validation."""
        name = splits.final_split_name(self.task)
        return name, self.table(name)

    def encode(self, model, table, name: str):
        """An EncodedSplit of `table` through `model` (labels required except for unlabeled)."""
        return splits.EncodedSplit(name, model, table,
                                   labelled=False if name == "unlabeled" else True)

    def trainer(self, model) -> Trainer:
        return Trainer(model, self.task, self.device, autocast_dtype=self.autocast,
                       log=self.log, progress=self.progress, echo=self.echo,
                       states=self.states)

    def log(self, record: dict) -> None:
        """Append one line to metrics.jsonl (not again when a resumed run replays it)."""
        if self.states is None or self.states.should_write_log():
            self.rundir.append_metrics(record)
            if self.loggers is not None:   # after the line is on disk: a logger cannot lose it
                self.loggers.record(record)

    def write_predictions(self, labels: list, table, result: EvalResult) -> None:
        from .inference import template_fields
        write_predictions(self.rundir, labels, table, result, self.task["data"]["label"],
                          template_fields(self.task))

    def finish(self, model, result: EvalResult, table, split_name: str) -> None:
        """predictions.tsv and the checkpoint of `model`."""
        self.write_predictions(model.labels, table, result)
        self.checkpoint_bytes = save_checkpoint(model, self.rundir.checkpoint_dir)

    def finish_ensemble(self, members: list, weights: list, result: EvalResult, table,
                        folder=None) -> None:
        """predictions.tsv and an ensemble checkpoint in `folder` (default: checkpoint/) whose
        members, saved as `folder/members/<name>/` checkpoints, are combined by `weights`."""
        labels = [entry["label"] for entry in self.task["verbalizer"]["labels"]]
        self.write_predictions(labels, table, result)
        size = save_ensemble(self.task, members, weights, labels,
                             folder or self.rundir.checkpoint_dir)
        if folder is None or Path(folder) == self.rundir.checkpoint_dir:
            self.checkpoint_bytes = size


def write_predictions(rundir: RunDir, labels: list, table, result: EvalResult,
                      label_column, fields: list = ()) -> None:
    """predictions.tsv: source line, gold (when known), prediction, extra columns (e.g. a
    rationale), then one probability per label. A generation task's rows are its distinct
    inputs: line, the template's `fields`, prediction, the first reference and how many."""
    leading = {"line": lambda row, i: table.lines[i]}
    if result.rows is not None:
        leading.update({f: (lambda row, i, f=f: row[f]) for f in fields})
    elif label_column in table.columns:
        leading["gold"] = lambda row, i: row[label_column]
    rundir.write_predictions(*prediction_table(table, result, labels, leading))


def train_task(task: dict, *, out=None, device: str | None = None, progress: bool = True,
               echo=print, resume: bool = False) -> dict:
    """Run `task` end to end; return the summary (also written to summary.json). With
    `resume`, continue the run in `out` (a finished run returns its summary; a missing or
    empty `out` starts afresh)."""
    started = time.perf_counter()
    run_path = Path(out) if out else default_run_dir(task["name"])
    ranks = world()
    if resume:
        finished = _resumable(task, run_path)
        if finished is not None:
            echo(f"resume: {run_path} is finished already")
            return finished
        resume = has_run_files(run_path)
    if not resume and ranks.is_main:
        check_free(run_path)
    torch_device = ranks.init(resolve_device(device or task["train"]["device"]))
    scratch = None
    if not ranks.is_main:     # the other ranks write nothing the user sees
        scratch = Path(tempfile.mkdtemp(prefix=f"promptdsl-rank{ranks.rank}-"))
        echo, progress = (lambda text: None), False
    write_path = scratch / "run" if scratch else run_path
    states = RunStates(write_path / STATE_FOLDER, run_path / STATE_FOLDER if resume else None,
                       metrics_bytes=lambda: context.rundir.metrics_bytes())
    loggers = Loggers((task["train"].get("log") or ()) if ranks.is_main else (), write_path, task)
    context = RunContext(task, torch_device, write_path, progress, echo, states=states,
                         loggers=loggers)
    try:
        if resume:
            _reopen(context, states)
        summary = _run(task, context, started)
        if context._rundir is not None:
            shutil.rmtree(context._rundir.path / STATE_FOLDER, ignore_errors=True)
        return summary
    except interrupt.Interrupted as exc:
        if context._rundir is not None and "--resume" not in str(exc):
            exc.args = (f"{exc}; {interrupt.resume_command(task, run_path)}",)
        raise
    finally:
        loggers.close()
        if context._rundir is not None:
            context._rundir.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _resumable(task: dict, run_path: Path) -> dict | None:
    """Check that `run_path` may be resumed with `task`; its summary when it is finished."""
    saved_task = run_path / "task.json"
    if not saved_task.is_file():
        return None                 # nothing written yet: the run starts afresh
    try:
        saved = json.loads(saved_task.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{saved_task}: cannot be read to resume the run: {exc}") from exc
    where = _first_difference(json.loads(dumps(task)), saved)
    if where is not None:
        raise RunDirError(f"{run_path}: the run was started with a different task "
                          f"({where}); resume it with the same file and --set values, or "
                          "start a new run")
    summary = run_path / "summary.json"
    if summary.is_file():
        try:
            return json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{summary}: cannot be read: {exc}") from exc
    return None


def _first_difference(new, old, path: str = "") -> str | None:
    """`key: new vs old` for the first place two JSON values differ, or None."""
    if isinstance(new, dict) and isinstance(old, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            found = _first_difference(new.get(key), old.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        for i, (a, b) in enumerate(zip(new, old)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if new != old:
        return f"`{path or 'task'}`: {json.dumps(new)[:60]} now, {json.dumps(old)[:60]} then"
    return None


def _reopen(context: RunContext, states: RunStates) -> None:
    """Lock the run directory again and cut metrics.jsonl back to the latest state."""
    keep = states.begin_resume()
    if world().is_main:
        context._rundir = RunDir.reopen(context.run_path)
        context._rundir.truncate_metrics(keep or 0)
        context.echo(f"run directory: {context.run_path} (resumed)")


def _run(task: dict, context: RunContext, started: float) -> dict:
    methods = build.method_specs(task)
    custom = [spec for spec, _ in methods if spec.run is not None]
    will_train = build.trains(task)
    context.read_all()
    if will_train and not custom and context.table("train") is None:
        raise DataError(f"method `{methods[-1][0].name}` trains, but the task has no data.train",
                        task["file"])
    final_name, final_table = context.final_split()
    _check_interrupt(context)

    if custom:
        final_metrics = custom[0].run(task, context) or {}
        return _write_summary(context, {final_name: final_metrics,
                                        "eval": {"split": final_name,
                                                 "examples": len(final_table)}},
                              None, None, started)

    model = context.build_model()
    context.prepare(model)
    encoded = {name: context.encode(model, context.table(name), name)
               for name in ("train", "validation", "test") if context.table(name) is not None}
    _check_interrupt(context)
    trainer = context.trainer(model)
    train_result = None
    if will_train:
        train_result = trainer.train(encoded["train"], encoded.get("validation"))
    interrupt.check()
    results = {}
    for name in ("validation", "test"):
        if name not in encoded:
            continue
        if name == "validation" and train_result is not None and train_result.best_metrics:
            continue  # the restored best model's validation metrics are already measured
        results[name] = trainer.evaluate(encoded[name], desc=name)
    final = results.get(final_name) or trainer.evaluate(encoded[final_name], desc=final_name)
    context.log({"step": train_result.steps if train_result else 0, "split": final_name,
                 **final.metrics})
    context.finish(model, final, final_table, final_name)
    summary = {
        "test": results["test"].metrics if "test" in results else None,
        "validation": (results["validation"].metrics if "validation" in results
                       else train_result.best_metrics if train_result else None),
        "eval": {"split": final_name, "examples": final.examples,
                 "seconds": round(final.seconds, 3),
                 "examples_per_second": round(final.examples_per_second, 2)},
    }
    return _write_summary(context, summary, model, train_result, started)


def _check_interrupt(context: RunContext) -> None:
    """Stop before training if a signal came (train_task adds the resume command once
    something was written)."""
    interrupt.check(" before training; nothing was written" if context._rundir is None else "")


def _write_summary(context: RunContext, summary: dict, model, train_result, started) -> dict:
    task = context.task
    parameters = None
    if model is not None:
        counted = count(model)
        parameters = {"trainable": counted.trainable, "total": counted.total}
    full = {
        "task": task["name"],
        "file": task["file"],
        "model": task["model"],
        "methods": [m["name"] for m in task["methods"]],
        "run_dir": str(context.rundir.path),
        "device": str(context.device),
        "processes": world().size,      # ranks that shared the work (torchrun)
        "precision": "bf16" if context.autocast else "fp32",
        "seed": context.seed,
        "shots": task["data"]["shots"],
        "sample_seed": task["data"]["sample_seed"],
        "metric": task["metric"],
        "test": summary.get("test"),
        "validation": summary.get("validation"),
        "eval": summary.get("eval"),
        "train": None if train_result is None else {
            "examples": len(context.table("train")), "steps": train_result.steps,
            "epochs": train_result.epochs, "seconds": round(train_result.seconds, 3),
            "examples_per_second": round(train_result.examples_per_second, 2),
            "best_step": train_result.best_step, "stopped_early": train_result.stopped_early},
        "parameters": parameters,
        "checkpoint_bytes": context.checkpoint_bytes,
        "memory": {**peak_memory(), "prefix_cache": stats_of(model) if model is not None
                   else None},
        "wall_seconds": round(time.perf_counter() - started, 3),
    }
    context.rundir.write_summary(full)
    if context.loggers is not None:
        context.loggers.summary(full)
    return full


__all__ = ["train_task", "RunContext", "write_predictions"]

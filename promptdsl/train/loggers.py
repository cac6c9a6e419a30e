"""Experiment trackers (`train { log: [NAME] }`, `promptc train --log NAME`): one fan-out object
that turns what a run records into scalars for every logger plugin (`LoggerSpec`).

A logger is what `LoggerSpec.open(run_dir, task)` returns: `scalar(tag, value, step)` and
`close()`. Tags: `train/loss`, `train/learning_rate` at each evaluation point, `<split>/<metric>`
(`validation/accuracy`, `test/macro_f1`, `<split>/per_label_f1/<label>`), and at the end
`train/examples_per_second` and `<split>/examples_per_second`. The step is the optimizer step.

metrics.jsonl is written before any logger sees a record, so a failing logger never loses it; a
logger that raises stops the run with a PluginError naming it (never a silent gap).
"""
from __future__ import annotations

import math

from ..diagnostics import suggestion_hint
from ..errors import PluginError
from ..registry import get_registry

# record keys that are no metric of the record's split
_META = {"step", "epoch", "split", "best", "train_loss", "learning_rate"}


def logger_specs(names) -> list:
    """The LoggerSpecs `names` name, each checked (its package present); unknown is a PluginError."""
    known = get_registry().loggers
    specs = []
    for name in dict.fromkeys(names):
        spec = known.get(name)
        if spec is None:
            hint = suggestion_hint(name, known, "installed loggers")
            raise PluginError(f"unknown logger `{name}`" + (f"; {hint}" if hint else ""))
        if spec.check is not None:
            spec.check()
        specs.append(spec)
    return specs


def scalars_of(record: dict):
    """(tag, value) pairs of one metrics.jsonl record."""
    if "train_loss" in record:
        yield "train/loss", record["train_loss"]
    if "learning_rate" in record:
        yield "train/learning_rate", record["learning_rate"]
    split = record.get("split", "train")
    if split == "train":
        return
    for key, value in record.items():
        if key in _META:
            continue
        if isinstance(value, dict):
            for label, sub in value.items():
                yield f"{split}/{key}/{label}", sub
        else:
            yield f"{split}/{key}", value


class Loggers:
    """The loggers of one run (rank 0 only: others get an empty one). Opened lazily at the first
    record, so that nothing is written before the run directory exists."""

    def __init__(self, names=(), run_dir=None, task: dict | None = None):
        self.specs = logger_specs(names)
        self.run_dir, self.task = run_dir, task
        self.open_ones: list | None = None

    def _loggers(self) -> list:
        if self.open_ones is None:
            self.open_ones = []
            for spec in self.specs:
                self.open_ones.append((spec.name, self._call(spec.name, spec.open,
                                                             self.run_dir, self.task)))
        return self.open_ones

    @staticmethod
    def _call(name, function, *args):
        try:
            return function(*args)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"logger `{name}` failed: {exc}") from exc

    def scalars(self, pairs, step: int) -> None:
        pairs = [(tag, float(v)) for tag, v in pairs
                 if isinstance(v, (int, float)) and not isinstance(v, bool)
                 and math.isfinite(float(v))]
        if not self.specs or not pairs:
            return
        for name, logger in self._loggers():
            for tag, value in pairs:
                self._call(name, logger.scalar, tag, value, int(step))

    def record(self, record: dict) -> None:
        """One metrics.jsonl line (already written)."""
        self.scalars(scalars_of(record), record.get("step", 0))

    def summary(self, summary: dict) -> None:
        """Throughput from summary.json, at the last step."""
        train, final = summary.get("train") or {}, summary.get("eval") or {}
        step = train.get("steps", 0)
        pairs = [("train/examples_per_second", train.get("examples_per_second"))]
        if final.get("split"):
            pairs.append((f"{final['split']}/examples_per_second",
                          final.get("examples_per_second")))
        self.scalars(pairs, step)

    def close(self) -> None:
        for name, logger in self.open_ones or []:
            self._call(name, logger.close)
        self.open_ones = []


__all__ = ["Loggers", "logger_specs", "scalars_of"]

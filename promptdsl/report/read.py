"""Reading what `promptc train` left behind (docs/cli.md, "The run directory") for the report.

A path given to `promptc report` is one of: a run directory (task.json / metrics.jsonl /
summary.json), a sweep directory (sweep.json and one run folder per point), or a folder of
several tasks (one run or sweep per sub-folder). Every bad file is a `DataError` naming it (and
the line, for metrics.jsonl and predictions.tsv); a run without summary.json is unfinished and
is reported with what it has."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError, PromptdslError

RUN_FILES = ("summary.json", "metrics.jsonl", "task.json")


class ReportError(PromptdslError):
    """A path given to `promptc report` is not something it can report on."""


@dataclass
class Run:
    path: Path
    name: str
    summary: dict | None            # None: the run is unfinished
    metrics: list                   # metrics.jsonl records, in order
    predictions: tuple | None       # (gold, predicted) lists, or None when not kept
    task: dict | None = None

    @property
    def finished(self) -> bool:
        return self.summary is not None

    @property
    def metric(self) -> str:
        """The task's own metric (what early stopping watches), accuracy when unknown."""
        return (self.summary or {}).get("metric") or (self.task or {}).get("metric") \
            or "accuracy"

    @property
    def final(self) -> dict | None:
        """The final evaluation's metrics: summary's test split, else the last test line."""
        if self.summary:
            split = (self.summary.get("eval") or {}).get("split", "test")
            return self.summary.get(split) or self.summary.get("test")
        tests = [m for m in self.metrics if m.get("split") == "test"]
        return tests[-1] if tests else None


@dataclass
class Sweep:
    path: Path
    name: str
    data: dict                      # sweep.json
    runs: list = field(default_factory=list)


def read_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"corrupt JSON: {exc.msg} (column {exc.colno})", path,
                        exc.lineno) from None


def read_jsonl(path: Path) -> list:
    records = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"corrupt JSON line: {exc.msg} (column {exc.colno})", path,
                                number) from None
            if not isinstance(record, dict):
                raise DataError("expected a JSON object on each line", path, number)
            records.append(record)
    return records


_UNESCAPE = re.compile(r"\\(.)")
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def tsv_unescape(cell: str) -> str:
    """The inverse of promptdsl.train.rundir.tsv_cell."""
    return _UNESCAPE.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(0)), cell)


def read_predictions(path: Path) -> tuple | None:
    """(gold, predicted) from predictions.tsv; None when the file or a gold column is absent
    (generation runs keep references, not labels)."""
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        lines = handle.read().split("\n")
    header = [tsv_unescape(c) for c in lines[0].rstrip("\r").split("\t")]
    if "gold" not in header or "prediction" not in header:
        return None
    g, p = header.index("gold"), header.index("prediction")
    gold, predicted = [], []
    for number, line in enumerate(lines[1:], 2):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise DataError(f"expected {len(header)} cells, found {len(cells)}", path, number)
        gold.append(tsv_unescape(cells[g]))
        predicted.append(tsv_unescape(cells[p]))
    return gold, predicted


def _object(path: Path) -> dict:
    value = read_json(path)
    if not isinstance(value, dict):
        raise DataError("expected a JSON object", path)
    return value


def read_run(path: Path, name: str | None = None) -> Run:
    summary = _object(path / "summary.json") if (path / "summary.json").is_file() else None
    metrics = read_jsonl(path / "metrics.jsonl") if (path / "metrics.jsonl").is_file() else []
    task = _object(path / "task.json") if (path / "task.json").is_file() else None
    return Run(path, name or path.name, summary, metrics,
               read_predictions(path / "predictions.tsv"), task)


def is_run(path: Path) -> bool:
    return any((path / f).is_file() for f in RUN_FILES)


def read_sweep(path: Path, name: str | None = None) -> Sweep:
    data = _object(path / "sweep.json")
    sweep = Sweep(path, name or data.get("task") or path.name, data)
    for entry in data.get("runs") or []:
        # the point's folder under this sweep (sweep.json's run_dir may be from another machine)
        folder = path / Path(str((entry or {}).get("run_dir", ""))).name
        if folder.is_dir() and is_run(folder):
            sweep.runs.append(read_run(folder))
    return sweep


def read_target(path) -> list:
    """What one RUN_DIR argument holds: a list of Run and Sweep objects."""
    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path}: no such run directory")
    if not path.is_dir():
        raise ReportError(f"{path}: not a directory (give a run, sweep or multi-task folder)")
    if (path / "sweep.json").is_file():
        return [read_sweep(path)]
    if is_run(path):
        return [read_run(path)]
    found = []
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        if (child / "sweep.json").is_file():
            found.append(read_sweep(child, f"{path.name}/{child.name}"))
        elif is_run(child):
            found.append(read_run(child, f"{path.name}/{child.name}"))
    if not found:
        raise ReportError(f"{path}: not a run directory (no summary.json, metrics.jsonl or "
                          "task.json, no sweep.json, and no run folders inside)")
    return found

"""Sweeps: a grid over dotted task keys (`data.sample_seed: [13, 21]`), one run per point,
then mean ± std of every metric."""
from __future__ import annotations

import copy
import itertools
from pathlib import Path

from .metrics import mean_std

DATA_FILES = ("train", "validation", "test", "unlabeled")


def grid(sweep: dict | None) -> list[dict]:
    """Every point of the grid, the first key varying slowest: [{key: value}, …]."""
    if not sweep:
        return []
    keys = list(sweep)
    return [dict(zip(keys, values)) for values in itertools.product(*(sweep[k] for k in keys))]


def apply_point(task: dict, point: dict) -> dict:
    """A copy of `task` with the point's dotted keys set (data file paths resolved against the
    task's file, as the front end does for the file's own paths); `sweep` is cleared."""
    out = copy.deepcopy(task)
    for key, value in point.items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node[part]
        if parents == ["data"] and last in DATA_FILES and isinstance(value, str):
            value = str((Path(task["file"]).parent / value).resolve())
        node[last] = value
    out["sweep"] = None
    return out


def point_name(point: dict) -> str:
    return ",".join(f"{key.split('.')[-1]}={value}" for key, value in point.items())


def aggregate(summaries: list[dict], split: str) -> dict:
    """{metric: {"mean", "std", "values"}} over the runs' `split` metrics (numbers only;
    per-label F1 aggregated label by label)."""
    metrics = [s.get(split) for s in summaries if s.get(split)]
    if not metrics:
        return {}
    out = {}
    for key, value in metrics[0].items():
        if isinstance(value, (int, float)):
            values = [m[key] for m in metrics if isinstance(m.get(key), (int, float))]
            mean, std = mean_std(values)
            out[key] = {"mean": mean, "std": std, "values": values}
        elif isinstance(value, dict):
            out[key] = {}
            for label in value:
                values = [m[key][label] for m in metrics if label in (m.get(key) or {})]
                mean, std = mean_std(values)
                out[key][label] = {"mean": mean, "std": std, "values": values}
    return out

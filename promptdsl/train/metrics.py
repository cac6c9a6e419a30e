"""Evaluation metrics through the registry (`MetricSpec` plugins) and the final table.

Every evaluation reports the standard classification set (accuracy, macro-F1, per-label F1) plus
the task's own `metric` when it is another one; the task's metric is the one early stopping and
best-checkpoint keeping watch."""
from __future__ import annotations

import math
import statistics

from ..errors import PluginError
from ..registry import get_registry

STANDARD = ("accuracy", "macro_f1", "per_label_f1")


def metric_spec(name: str):
    specs = get_registry().metrics
    if name not in specs:
        known = ", ".join(sorted(specs)) or "(none loaded)"
        raise PluginError(f"unknown metric `{name}`; known metrics: {known}")
    return specs[name]


def compute_metrics(gold: list, predicted: list, labels: list, task_metric: str | None) -> dict:
    """{metric name: float or dict} for label values `gold` vs `predicted`."""
    names = list(STANDARD)
    if task_metric and task_metric not in names:
        names.append(task_metric)
    return {name: metric_spec(name).compute(gold, predicted, labels) for name in names}


def is_better(task_metric: str, new: float, best: float | None) -> bool:
    if best is None:
        return True
    if metric_spec(task_metric).higher_is_better:
        return new > best
    return new < best


def mean_std(values: list) -> tuple:
    """Mean and sample standard deviation (0 for a single value)."""
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return float("nan"), float("nan")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), std


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def format_table(rows: dict) -> str:
    """A plain-text table: one row per {name: metrics dict}; columns accuracy, macro-F1, then the
    F1 of each label (in %)."""
    labels: list = []
    extra: list = []
    for metrics in rows.values():
        for label in (metrics.get("per_label_f1") or {}):
            if label not in labels:
                labels.append(label)
        for key, value in metrics.items():
            if key not in STANDARD and key not in extra and isinstance(value, (int, float)) \
                    and key not in ("loss", "examples"):
                extra.append(key)
    header = ["", "accuracy", "macro-F1", *extra, *[f"F1[{label}]" for label in labels]]
    table = [header]
    for name, metrics in rows.items():
        per_label = metrics.get("per_label_f1") or {}
        table.append([name, _pct(metrics.get("accuracy")), _pct(metrics.get("macro_f1")),
                      *[_pct(metrics.get(key)) for key in extra],
                      *[_pct(per_label.get(label)) for label in labels]])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)

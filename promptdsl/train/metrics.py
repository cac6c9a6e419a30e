"""Evaluation metrics through the registry (`MetricSpec` plugins) and the final table.

Every evaluation of a classification task reports the standard label set (accuracy, macro-F1,
per-label F1), of a generation task BLEU and ROUGE-L, plus the task's own `metric` when it is
another one; the task's metric is the one early stopping and best-checkpoint keeping watch."""
from __future__ import annotations

import math
import statistics

from ..errors import PluginError
from ..registry import get_registry
from ..specs import LABEL_METRIC, TEXT_METRIC

STANDARD = ("accuracy", "macro_f1", "per_label_f1")
TEXT_STANDARD = ("bleu", "rouge")

# kind -> (what its metrics compare, the task that needs it)
_KIND_WORDS = {LABEL_METRIC: ("labels", "a classification task"),
               TEXT_METRIC: ("texts", "a generation task")}


def metric_spec(name: str, kind: str | None = None):
    """The registered MetricSpec `name`; with `kind`, one of that kind (a metric of the other kind
    is a PluginError listing the registered metrics of `kind`)."""
    specs = get_registry().metrics
    if name not in specs:
        known = ", ".join(sorted(specs)) or "(none loaded)"
        raise PluginError(f"unknown metric `{name}`; known metrics: {known}")
    spec = specs[name]
    if kind is not None and spec.kind != kind:
        compares = _KIND_WORDS[spec.kind][0]
        task = _KIND_WORDS[kind][1]
        same_kind = ", ".join(n for n, s in specs.items() if s.kind == kind) or "(none loaded)"
        raise PluginError(f"metric `{name}` compares {compares}; {task} needs a {kind} metric: "
                          f"{same_kind}")
    return spec


def _with_task_metric(standard: tuple, task_metric: str | None) -> list:
    names = list(standard)
    if task_metric and task_metric not in names:
        names.append(task_metric)
    return names


def compute_metrics(gold: list, predicted: list, labels: list, task_metric: str | None) -> dict:
    """{metric name: float or dict} for label values `gold` vs `predicted`."""
    return {name: metric_spec(name, LABEL_METRIC).compute(gold, predicted, labels)
            for name in _with_task_metric(STANDARD, task_metric)}


def compute_text_metrics(predictions: list, references: list, task_metric: str | None) -> dict:
    """{metric name: float} for one generated string per input against the list of all that
    input's references: BLEU, ROUGE-L and the task's metric (a label metric is a PluginError)."""
    return {name: metric_spec(name, TEXT_METRIC).compute(predictions, references)
            for name in _with_task_metric(TEXT_STANDARD, task_metric)}


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


# the label metrics' columns, shown only when some row has them (a generation table has none)
_LABEL_COLUMNS = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"))


def format_table(rows: dict) -> str:
    """A plain-text table: one row per {name: metrics dict}; columns accuracy and macro-F1 (when
    some row has them), every other number (bleu, rouge, the task's metric …), then the F1 of
    each label (in %)."""
    fixed = [(key, title) for key, title in _LABEL_COLUMNS
             if any(key in metrics for metrics in rows.values())]
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
    header = ["", *[title for _, title in fixed], *extra, *[f"F1[{label}]" for label in labels]]
    table = [header]
    for name, metrics in rows.items():
        per_label = metrics.get("per_label_f1") or {}
        table.append([name, *[_pct(metrics.get(key)) for key, _ in fixed],
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

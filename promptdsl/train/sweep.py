"""Sweeps at run time: mean ± std of every metric over the runs. The grid and its runs come from
the front end (`promptdsl.ir.sweep.expand_sweep`)."""
from __future__ import annotations

from .metrics import mean_std


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

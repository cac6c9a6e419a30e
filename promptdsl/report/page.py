"""The report page: one self-contained HTML file (inline SVG and CSS, no script, no network).
Every text that comes from a run (names, labels, paths) goes through html.escape."""
from __future__ import annotations

from html import escape

from ..train.metrics import mean_std
from . import plots
from .read import Run, Sweep

CSS = """body{font-family:sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em}
td.n{text-align:right;font-variant-numeric:tabular-nums}.warn{color:#a40}
.plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
figure{margin:.5em 0}figure svg{max-width:100%;height:auto}"""


def _pct(value) -> str:
    return f"{100 * value:.2f}" if isinstance(value, (int, float)) else "–"


def table(header: list | None, rows: list, numeric_from: int = 1) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header or ())
    head = f"<tr>{head}</tr>" if head else ""
    body = "".join("<tr>" + "".join(
        f"<td{' class=n' if i >= numeric_from else ''}>{escape(str(c))}</td>"
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def figure(svg: str | None, caption: str) -> str:
    if not svg:
        return ""
    return f"<figure class=plot>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def scalar_metrics(metrics: dict | None) -> dict:
    return {k: v for k, v in (metrics or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "examples"}


def labels_of(run: Run) -> list:
    labels = list(((run.final or {}).get("per_label_f1") or {}))
    if run.predictions:
        for label in [*run.predictions[0], *run.predictions[1]]:
            if label not in labels:
                labels.append(label)
    return labels


def confusion_matrix(labels: list, gold: list, predicted: list) -> list:
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted):
        matrix[index[g]][index[p]] += 1
    return matrix


def f1_from_confusion(matrix: list) -> list:
    """Per-label F1 when the summary lacks it (an unfinished run with predictions)."""
    scores = []
    for i, row in enumerate(matrix):
        tp, gold, pred = row[i], sum(row), sum(r[i] for r in matrix)
        scores.append(2 * tp / (gold + pred) if gold + pred else 0.0)
    return scores


def run_section(run: Run) -> str:
    parts = [f"<h2>{escape(run.name)}</h2>", f"<p><code>{escape(str(run.path))}</code></p>"]
    facts = run.summary or {}
    if not run.finished:
        parts.append("<p class=warn><b>unfinished run</b>: no summary.json; shown is what "
                     f"metrics.jsonl holds ({len(run.metrics)} evaluations).</p>")
    described = [(k, facts.get(k)) for k in ("task", "model", "methods", "device", "seed",
                                             "shots", "metric", "wall_seconds")
                 if facts.get(k) is not None]
    if described:
        parts.append(table(None, [(k, ", ".join(map(str, v)) if isinstance(v, list) else v)
                                      for k, v in described], numeric_from=2))
    shown_plots = []
    evaluated = any(run.metric in m for m in run.metrics if m.get("split") != "test")
    shown_plots.append(figure(plots.curves(run.metrics, run.metric),
                        f"training loss{f' and {run.metric}' if evaluated else ''} by step"))
    final = run.final
    if final:
        shown = scalar_metrics(final)
        parts.append("<h3>final metrics</h3>" + table(
            list(shown), [[_pct(v) if k != "loss" else f"{v:.4f}" for k, v in shown.items()]],
            numeric_from=0))
    labels = labels_of(run)
    matrix = confusion_matrix(labels, *run.predictions) if run.predictions and labels else None
    f1 = (final or {}).get("per_label_f1") or \
        (dict(zip(labels, f1_from_confusion(matrix))) if matrix else {})
    if f1:
        parts.append("<h3>per-label F1</h3>" + table(
            ["label", "F1"], [(label, _pct(score)) for label, score in f1.items()]))
        shown_plots.append(figure(plots.bars(list(f1), list(f1.values()), "F1 (%)"),
                                  "F1 of each label"))
    if matrix:
        shown_plots.append(figure(
            plots.confusion(labels, matrix),
            f"confusion matrix: rows gold, columns predicted ({len(run.predictions[0])} "
            "examples, predictions.tsv)"))
    elif run.finished and labels:
        parts.append("<p>no confusion matrix: predictions.tsv has no gold labels</p>")
    parts.append("<div class=plots>" + "".join(shown_plots) + "</div>")
    return "".join(parts)


def sweep_values(sweep: Sweep, metric: str) -> tuple:
    """(point names, metric values) from sweep.json, in grid order."""
    names, values = [], []
    for entry in sweep.data.get("runs") or []:
        point = (entry or {}).get("point") or {}
        names.append(",".join(f"{k.split('.')[-1]}={v}" for k, v in point.items()) or "?")
        value = ((entry or {}).get("metrics") or {}).get(metric)
        values.append(value if isinstance(value, (int, float)) else None)
    return names, values


def sweep_metric(sweep: Sweep) -> str:
    return sweep.runs[0].metric if sweep.runs else "accuracy"


def sweep_section(sweep: Sweep) -> str:
    metric = sweep_metric(sweep)
    names, values = sweep_values(sweep, metric)
    parts = [f"<h2>sweep {escape(sweep.name)}</h2>",
             f"<p><code>{escape(str(sweep.path))}</code> · {len(names)} points · split "
             f"{escape(str(sweep.data.get('split', 'test')))}</p>"]
    aggregate = sweep.data.get("aggregate") or {}
    rows = [(k, _pct(v.get("mean")), _pct(v.get("std")), len(v.get("values") or []))
            for k, v in aggregate.items()
            if isinstance(v, dict) and "mean" in v and k != "loss"]
    if rows:
        parts.append(table(["metric", "mean", "std", "runs"], rows))
    if names:
        parts.append(figure(plots.sweep_points(names, values, metric),
                            f"{metric} of each point, mean ± std"))
    parts.extend(run_section(run) for run in sweep.runs)
    return "".join(parts)


def comparison(items: list) -> str:
    """Several runs side by side: the metric per run (a sweep: its mean ± std)."""
    metric = next((i.metric if isinstance(i, Run) else sweep_metric(i) for i in items),
                  "accuracy")
    names, values, errors, rows = [], [], [], []
    for item in items:
        if isinstance(item, Sweep):
            mean, std = mean_std(sweep_values(item, metric)[1])
            name = f"{item.name} (sweep)"
        else:
            mean, std = (item.final or {}).get(metric), 0.0
            name = item.name if item.finished else f"{item.name} (unfinished)"
        names.append(name)
        values.append(mean if isinstance(mean, (int, float)) and mean == mean else None)
        errors.append(std if std == std else 0.0)
        rows.append((name, _pct(values[-1]),
                     _pct(std) if isinstance(item, Sweep) else ""))
    return ("<h2>runs side by side</h2>" + table(["run", metric, "± std"], rows) +
            figure(plots.bars(names, values, f"{metric} (%)", errors), f"{metric} per run"))


def render(items: list, title: str = "promptc report") -> str:
    body = [f"<h1>{escape(title)}</h1>"]
    if len(items) > 1:
        body.append(comparison(items))
    body.extend(sweep_section(i) if isinstance(i, Sweep) else run_section(i) for i in items)
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")

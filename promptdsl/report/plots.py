"""The report's plots: matplotlib figures rendered to inline SVG text (no files, no network)."""
from __future__ import annotations

import io
import re

from ..train.metrics import mean_std


def _pyplot():
    try:
        import matplotlib
    except ImportError:              # the report's plots are an extra
        from ..errors import PromptdslError
        raise PromptdslError("promptc report needs matplotlib: pip install 'promptdsl[report]'") \
            from None
    matplotlib.use("Agg")           # no display; SVG output only
    matplotlib.rcParams["svg.hashsalt"] = "promptdsl"   # the same run -> the same page
    matplotlib.rcParams["svg.fonttype"] = "none"        # text stays text (small, selectable)
    import matplotlib.pyplot as plt
    return plt


_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)   # a date: pages would differ


def to_svg(fig) -> str:
    plt = _pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = _PROLOGUE.sub("", buffer.getvalue(), count=1)    # drop <?xml …> and the DOCTYPE
    return _METADATA.sub("", svg, count=1)


def curves(metrics: list, metric: str) -> str | None:
    """Training loss against step, and the validation metric (in %) on a second axis."""
    train = [(m["step"], m["train_loss"]) for m in metrics
             if m.get("split") != "test" and isinstance(m.get("train_loss"), (int, float))]
    evals = [(m["step"], 100 * m[metric]) for m in metrics
             if m.get("split") != "test" and isinstance(m.get(metric), (int, float))]
    if not train and not evals:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    if train:
        ax.plot(*zip(*train), color="tab:blue", marker=".", label="train loss")
    ax.set_xlabel("step")
    ax.set_ylabel("train loss", color="tab:blue")
    if evals:
        other = ax.twinx()
        split = next(m["split"] for m in metrics if metric in m and m.get("split") != "test")
        other.plot(*zip(*evals), color="tab:orange", marker="o", label=f"{split} {metric}")
        other.set_ylabel(f"{split} {metric} (%)", color="tab:orange")
    ax.grid(alpha=0.3)
    return to_svg(fig)


def confusion(labels: list, matrix: list) -> str:
    plt = _pyplot()
    size = max(2.4, 0.5 * len(labels) + 1.6)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 4 else 0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    top = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center",
                    color="white" if count > top / 2 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return to_svg(fig)


def bars(names: list, values: list, ylabel: str, errors: list | None = None) -> str:
    """One bar per name (values in %), with ± error bars when given (a sweep's std)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(names) + 1.5), 3.2))
    shown = [0.0 if v is None else 100 * v for v in values]
    yerr = None if errors is None else [0.0 if e is None else 100 * e for e in errors]
    ax.bar(range(len(names)), shown, yerr=yerr, capsize=4, color="tab:blue")
    for x, v in enumerate(values):      # the value above the bar and its error bar
        if v is not None:
            ax.text(x, 100 * v + (yerr[x] if yerr else 0) + 1, f"{100 * v:.1f}", ha="center",
                    va="bottom", fontsize=8)
    ax.set_ylim(0, max([100.0, *(s + (yerr[i] if yerr else 0) + 8 for i, s in
                                 enumerate(shown))]))
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 3 else 0, ha="right"
                  if len(names) > 3 else "center")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    return to_svg(fig)


def sweep_points(names: list, values: list, metric: str) -> str:
    """Each sweep point's metric as a dot, with the mean and a ± std band."""
    plt = _pyplot()
    shown = [100 * v for v in values if isinstance(v, (int, float))]
    mean, std = mean_std(shown)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(names) + 1.5), 3.2))
    ax.plot(range(len(values)), [None if v is None else 100 * v for v in values], "o",
            color="tab:blue", label="points")
    ax.axhline(mean, color="tab:orange", label=f"mean {mean:.2f} ± {std:.2f}")
    ax.axhspan(mean - std, mean + std, color="tab:orange", alpha=0.2)
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 3 else 0)
    ax.set_ylabel(f"{metric} (%)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return to_svg(fig)

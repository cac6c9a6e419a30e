"""One command for the whole suite:

    python -m benchmarks.run [--quick] [--write-notes]

Prints one JSON line per figure, then the tables; `--write-notes` puts the tables into
benchmarks/NOTES.md (a section per device; the other sections stay). See docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path
from datetime import datetime, timezone

from .context import Context, benchmark_parser  # noqa: F401 (Context re-exported for the figures)

FIGURES = ("data_path", "overhead", "compare")


def parser() -> argparse.ArgumentParser:
    p = benchmark_parser("run", "promptdsl benchmark suite (docs/benchmarks.md)",
                         "tiny models and few steps (CI smoke: checks that it runs)")
    p.add_argument("--data", help="folder with SST-2 train.tsv and dev.tsv "
                   "(default: the repo's tasks/data/sst2)")
    p.add_argument("--models", default="", help="comma-separated model names to keep")
    p.add_argument("--methods", default="", help="comma-separated methods for figure 1")
    p.add_argument("--compare-methods", default="",
                   help="comma-separated methods for figure 3 (default: all it has)")
    p.add_argument("--compare-models", default="",
                   help="models for figure 3 (default: bert-base; smollm2-135m-real runs it "
                        "on SmolLM2's real weights, where accuracy means something)")
    p.add_argument("--figures", default=",".join(FIGURES),
                   help=f"which figures to run (default: {','.join(FIGURES)})")
    p.add_argument("--write-notes", action="store_true",
                   help="write the tables into benchmarks/NOTES.md")
    p.add_argument("--notes", default=None, help="notes file (default: benchmarks/NOTES.md)")
    return p


def parse_args(argv=None, with_args: bool = False):
    args = parser().parse_args(argv)
    ctx = Context(quick=args.quick, data=args.data, device_name=args.device,
                  threads=args.threads,
                  only_models=tuple(m for m in args.models.split(",") if m),
                  compare_models=tuple(m for m in args.compare_models.split(",") if m))
    return (ctx, args) if with_args else ctx


def run_data_path(ctx) -> None:
    """Figure 2 is benchmarks/data_path.py (the data path's own script): run it, keep its lines."""
    from . import data_path
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        data_path.main(["--quick"] if ctx.quick else [])
    for line in buffer.getvalue().splitlines():
        if line.startswith("{"):
            ctx.emit(json.loads(line))


def main(argv=None) -> int:
    from . import compare, measure, notes, overhead, report
    ctx, args = parse_args(argv, with_args=True)
    figures = [f for f in args.figures.split(",") if f]
    started = time.perf_counter()
    ctx.emit({"figure": "machine", **measure.machine(), "quick": ctx.quick,
              "utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")})
    if "data_path" in figures:
        run_data_path(ctx)
    if "overhead" in figures:
        overhead.run(ctx, tuple(args.methods.split(",")) if args.methods else overhead.METHODS)
    if "compare" in figures:
        compare.run(ctx, tuple(args.compare_methods.split(",")) if args.compare_methods
                    else tuple(compare.COLUMNS))
    seconds = round(time.perf_counter() - started, 1)
    import os
    load_end = round(os.getloadavg()[0], 2)
    ctx.emit({"figure": "suite", "seconds": seconds, "load_average_1min": load_end})
    machine = ctx.records[0]
    header = (f"Run {machine['utc']} UTC, {'--quick' if ctx.quick else 'full'} suite, "
              f"device {ctx.device.type}"
              + (f" ({machine['gpu']}, bf16 autocast)" if ctx.gpu else
                 f" ({machine['cores']} cores, {machine['torch_threads']} torch threads)")
              + f", torch {machine['torch']}, {seconds} s in all; load average (1 min) "
              f"{machine['load_average_1min']} at the start, {load_end} at the end "
              "(other processes share the machine).\n")
    text = report.render(ctx.records, header)
    print("\n" + text)
    (ctx.workdir / f"last-{ctx.device.type}.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in ctx.records), encoding="utf-8")
    if args.write_notes:
        key = ctx.device.type + ("-quick" if ctx.quick else "")
        kwargs = {"path": Path(args.notes)} if args.notes else {}
        path = notes.write_section(text, key, **kwargs)
        print(f"wrote section `{key}` of {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

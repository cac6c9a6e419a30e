"""Issue 13's figures on SmolLM2-135M-Instruct (CPU), each from the shipped task files:

    python -m benchmarks.ptr_sequence semeval [--threads 1]   # one mask vs PTR rules
    python -m benchmarks.ptr_sequence agnews --rows 500        # multi_token first/mean/sequence

`semeval`: tasks/semeval.prompt's single-mask baseline and PTR task, zero-shot and with the same
few-shot training, macro-F1 (relation_f1, the official metric) on the task's fixed test sample.
`agnews`: tasks/agnews.prompt's label phrases read with `multi_token: first`, `mean` and
`sequence` (also contextually calibrated), zero-shot accuracy on a fixed sample of the test set (seed 0). Each run is a
directory under runs/bench-issue13/ (kept: the command resumes). Prints one JSON line per run,
then a table.
"""
from __future__ import annotations

import argparse
import json

from .task_runs import RUNS, TASKS, run_task, sample_file

OUT = RUNS / "bench-issue13"
FIGURES = {
    "semeval": ("semeval.prompt", ["semeval_manual_zero", "semeval_ptr_zero",
                                   "semeval_manual", "semeval_ptr"]),
    "agnews": ("agnews.prompt", ["agnews_phrases", "agnews_phrases_mean",
                                 "agnews_phrases_sequence",
                                 "agnews_phrases_sequence_calibrated"]),
}


def score(summary: dict) -> tuple:
    """(metric name, value in %) of a run's test split."""
    test = summary["test"]
    name = summary.get("metric") or next(k for k in ("relation_f1", "accuracy") if k in test)
    return name, 100 * float(test[name])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ptr_sequence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("figure", choices=sorted(FIGURES))
    p.add_argument("--rows", type=int, default=500, help="agnews: test rows sampled")
    p.add_argument("--tasks", default=None, help="comma-separated subset of the figure's tasks")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    file, names = FIGURES[args.figure]
    if args.tasks:
        names = [n for n in names if n in args.tasks.split(",")]
    overrides, folder = {}, OUT / args.figure
    if args.figure == "agnews":
        sample = sample_file(TASKS / "data" / "ag_news" / "test.tsv", args.rows,
                             OUT / f"agnews_test{args.rows}.tsv")
        overrides["data.test"] = json.dumps(str(sample))
        folder = OUT / f"agnews-{args.rows}"
    rows = []
    for name in names:
        summary = run_task(TASKS / file, name, overrides, folder / name)
        metric, value = score(summary)
        record = {"task": name, metric: round(value, 2),
                  "train_seconds": (summary.get("train") or {}).get("seconds"),
                  "wall_seconds": summary.get("wall_seconds")}
        print(json.dumps(record), flush=True)
        rows.append((name, metric, value, summary.get("wall_seconds")))
    print("| task | metric | test | wall s |\n| --- | --- | --- | --- |")
    for name, metric, value, wall in rows:
        print(f"| {name} | {metric} | {value:.2f} | {wall if wall is None else round(wall)} |")


if __name__ == "__main__":
    main()

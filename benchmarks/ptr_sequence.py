"""Issue 13's figures on SmolLM2-135M-Instruct (CPU), each from the shipped task files:

    python -m benchmarks.ptr_sequence semeval [--threads 1]   # one mask vs PTR rules
    python -m benchmarks.ptr_sequence agnews --rows 500        # multi_token first/mean/sequence
    python -m benchmarks.ptr_sequence packing --rows 16 --steps 5   # candidates packed vs filled

`semeval`: tasks/semeval.prompt's single-mask baseline and PTR task, zero-shot and with the same
few-shot training, macro-F1 (relation_f1, the official metric) on the task's fixed test sample.
`agnews`: tasks/agnews.prompt's label phrases read with `multi_token: first`, `mean` and
`sequence` (also contextually calibrated), zero-shot accuracy on a fixed sample of the test set (seed 0). Each run is a
directory under runs/bench-issue13/ (kept: the command resumes). Prints one JSON line per run,
then a table. `packing`: semeval_ptr's 19 candidates of a batch of SemEval test rows scored by
the packed read (one sequence per row, block mask) and by one filled row per candidate (the
fallback), a forward and backward pass each under LoRA, timed interleaved (medians), with the
largest difference of their scores.
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


def packing(rows: int, steps: int) -> None:
    """Packed against filled candidates on semeval_ptr (LoRA: no prefix cache), side by side."""
    import torch
    from promptdsl.api import load
    from promptdsl.data.readers import read_table
    from promptdsl.model import filled, packed
    from promptdsl.model.compile import compile_task
    from .measure import interleaved
    model = compile_task(load(str(TASKS / "semeval.prompt"), task="semeval_ptr"))
    batch = model.collate(model.encode(read_table(TASKS / "data" / "semeval" / "test.tsv")
                                       .subset(range(rows))))
    verbalizer = model.verbalizer
    fills = filled.Fills.of([[verbalizer.token_ids[m][int(verbalizer.choice[c, m])]
                              for m in range(len(verbalizer.mask_names))]
                             for c in range(len(verbalizer.rules))])
    points = batch["mask_positions"]
    model.train()

    def run(fn):
        model.zero_grad()
        scores = fn(model, batch, fills, points)
        scores.logsumexp(-1).sum().backward()
        return scores.detach()
    a, b = run(packed.packed_log_probs), run(filled.filled_rows_log_probs)
    times = interleaved({"packed": lambda: run(packed.packed_log_probs),
                         "filled": lambda: run(filled.filled_rows_log_probs)},
                        torch.device("cpu"), steps)
    print(json.dumps({"rows": rows, "candidates": len(verbalizer.rules),
                      "packed_s": round(times["packed"], 3), "filled_s": round(times["filled"], 3),
                      "speedup": round(times["filled"] / times["packed"], 2),
                      "max_abs_diff": float((a - b).abs().max())}))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ptr_sequence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("figure", choices=sorted([*FIGURES, "packing"]))
    p.add_argument("--rows", type=int, default=500,
                   help="agnews: test rows sampled; packing: rows of the batch")
    p.add_argument("--steps", type=int, default=5, help="packing: timed steps per candidate")
    p.add_argument("--tasks", default=None, help="comma-separated subset of the figure's tasks")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.figure == "packing":
        return packing(args.rows, args.steps)
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

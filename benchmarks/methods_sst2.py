"""Accuracy of each tuning method on SST-2 16-shot with SmolLM2-135M-Instruct, run through the
task files in tasks/ exactly as `promptc train` runs them:

    python -m benchmarks.methods_sst2 [--seeds 13,21,42,87,100] [--epochs N] [--dev-rows N]
                                      [--methods zero_shot,prompt_tuning,…] [--write-notes]

Each (method, seed) is one run directory under runs/bench-methods/<settings>/ (kept; a finished run is not
repeated, so the command resumes). `--dev-rows N` evaluates on a fixed random sample of N dev
sentences (seed 0) instead of all 872, for slow CPUs; the notes say which was used.
Prints one JSON line per run and a table: accuracy mean ± std, trainable parameters,
checkpoint size.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from .task_runs import REPO, TASKS, run_task, sample_file

OUT = REPO / "runs" / "bench-methods"
# method -> (task file, task name)
RUNS = {
    "zero_shot": ("sst2.prompt", "sst2"),
    "finetune": ("sst2.prompt", "sst2_16shot"),
    "prompt_tuning": ("sst2_prompt_tuning.prompt", "sst2_prompt_tuning"),
    "ptuning": ("sst2_ptuning.prompt", "sst2_ptuning"),
    "prefix": ("sst2_prefix.prompt", "sst2_prefix"),
    "adapter": ("sst2_adapter.prompt", "sst2_adapter"),
    "lora": ("sst2_lora.prompt", "sst2_lora"),
    "prompt_tuning+lora": ("sst2_lora.prompt", "sst2_prompt_lora"),
}


def dev_sample(rows: int) -> Path:
    """A fixed random sample of the dev set (seed 0), written once under runs/."""
    return sample_file(TASKS / "data" / "sst2" / "dev.tsv", rows, OUT / f"dev_sample{rows}.tsv")


def run_one(method: str, seed: int, overrides: dict, folder: Path) -> dict:
    file, name = RUNS[method]
    return run_task(TASKS / file, name, {**overrides, "data.sample_seed": str(seed)},
                    folder / f"{method}-seed{seed}")


def table(results: dict) -> str:
    lines = ["| method | accuracy (mean ± std) | seeds | trainable parameters | checkpoint |",
             "| --- | --- | --- | --- | --- |"]
    for method, runs in results.items():
        accuracies = [100 * r["test"]["accuracy"] for r in runs]
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        params = runs[0]["parameters"]["trainable"] if runs[0].get("parameters") else 0
        size = runs[0].get("checkpoint_bytes") or 0
        lines.append(f"| {method} | {statistics.mean(accuracies):.1f} ± {std:.1f} | "
                     f"{', '.join(str(r['sample_seed']) for r in runs)} | {params:,} | "
                     f"{size / 1024:,.0f} KiB |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.methods_sst2", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="13,21,42,87,100")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--dev-rows", type=int, default=None, help="evaluate on N sampled dev rows")
    p.add_argument("--methods", default=",".join(RUNS))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--write-notes", action="store_true")
    p.add_argument("--finished-only", action="store_true",
                   help="run nothing; report the runs already finished")
    args = p.parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    overrides = {}
    if args.epochs is not None:
        overrides["train.epochs"] = str(args.epochs)
    if args.dev_rows:
        overrides["data.test"] = json.dumps(str(dev_sample(args.dev_rows)))
    # one folder per protocol, so a resumed command never mixes runs of different settings
    folder = OUT / f"dev{args.dev_rows or 'all'}-epochs{args.epochs or 'task'}"
    results: dict = {}
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    # seed by seed, so an interrupted command still has every method at the first seeds
    for seed in seeds:
        for method in methods:
            if method == "zero_shot" and seed != seeds[0]:
                continue                     # nothing is sampled or trained: one run is all
            done = (folder / f"{method}-seed{seed}" / "summary.json").is_file()
            if args.finished_only and not done:
                continue
            summary = run_one(method, seed, overrides, folder)
            print(json.dumps({"method": method, "seed": seed,
                              "accuracy": summary["test"]["accuracy"],
                              "trainable": (summary.get("parameters") or {}).get("trainable"),
                              "checkpoint_bytes": summary.get("checkpoint_bytes"),
                              "train_seconds": (summary.get("train") or {}).get("seconds"),
                              "wall_seconds": summary.get("wall_seconds")}), flush=True)
            results.setdefault(method, []).append(summary)
    results = {m: results[m] for m in methods if m in results}
    text = table(results)
    print(text)
    if args.write_notes:
        from .notes import write_section
        dev = f"{args.dev_rows} sampled dev rows" if args.dev_rows else "the 872-row dev set"
        epochs = f"{args.epochs} epochs" if args.epochs else "the task files' epochs"
        given = sys.argv[1:] if argv is None else argv
        shown = [a for a in given if a not in ("--finished-only", "--write-notes")]
        command = " ".join(["python -m benchmarks.methods_sst2"] + shown)
        write_section(f"## Tuning methods, SST-2 16-shot, SmolLM2-135M-Instruct (CPU)\n\n"
                      f"`{command}` — {epochs}, evaluated on {dev}.\n\n{text}\n",
                      f"methods-sst2-{folder.name}")


if __name__ == "__main__":
    main()

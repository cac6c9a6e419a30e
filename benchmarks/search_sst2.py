"""SST-2 16-shot on SmolLM2-135M-Instruct: the manual template against the templates the search
methods find, over LM-BFF's five sample seeds, each run from the shipped task files:

    python -m benchmarks.search_sst2 [--seeds 13,21,42,87,100] [--dev-rows N] [--threads 1]

`manual` is tasks/sst2.prompt's zero-shot task (its template, no search); `autoprompt` and
`template_search` are tasks/sst2_search.prompt's tasks: each searches on the seed's 32 training
rows, writes found.prompt and is evaluated as that zero-shot file on the dev set (all 872 rows,
or `--dev-rows N` sampled with seed 0). Runs are kept under runs/bench-search/ (the command
resumes). Prints one JSON line per run (with the found template) and the table.
"""
from __future__ import annotations

import argparse
import json
import statistics

from .task_runs import RUNS, TASKS, run_task, sample_file

OUT = RUNS / "bench-search"
CONFIGS = {   # name -> (task file, task)
    "manual": ("sst2.prompt", "sst2"),
    "autoprompt": ("sst2_search.prompt", "sst2_autoprompt"),
    "template_search": ("sst2_search.prompt", "sst2_template_search"),
}


def found_template(run_dir) -> str | None:
    """The template of the run's found.prompt, read through the front end."""
    path = run_dir / "found.prompt"
    if not path.is_file():
        return None
    from promptdsl.api import load
    return load(str(path))["template"]["text"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.search_sst2", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="13,21,42,87,100")
    p.add_argument("--dev-rows", type=int, default=None)
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    overrides = {}
    if args.dev_rows:
        sample = sample_file(TASKS / "data" / "sst2" / "dev.tsv", args.dev_rows,
                             OUT / f"dev_sample{args.dev_rows}.tsv")
        overrides["data.test"] = json.dumps(str(sample))
    folder = OUT / f"dev{args.dev_rows or 'all'}"
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict = {}
    for seed in seeds:
        for name in args.configs.split(","):
            if name == "manual" and seed != seeds[0]:
                continue             # zero-shot: nothing depends on the sample seed
            file, task = CONFIGS[name]
            out = folder / f"{name}-seed{seed}"
            summary = run_task(TASKS / file, task,
                               {**overrides, "data.sample_seed": str(seed)}, out)
            accuracy = 100 * summary["test"]["accuracy"]
            print(json.dumps({"config": name, "seed": seed, "accuracy": round(accuracy, 2),
                              "template": found_template(out),
                              "wall_seconds": summary.get("wall_seconds")}), flush=True)
            results.setdefault(name, []).append((seed, accuracy))
    print("| template | dev accuracy (mean ± std) | per seed |\n| --- | --- | --- |")
    for name, runs in results.items():
        values = [a for _, a in runs]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"| {name} | {statistics.mean(values):.1f} ± {std:.1f} | "
              + ", ".join(f"{s}: {a:.1f}" for s, a in runs) + " |")


if __name__ == "__main__":
    main()

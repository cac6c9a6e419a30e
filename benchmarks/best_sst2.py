"""The search for the best SST-2 16-shot accuracy on SmolLM2-135M-Instruct: each configuration
is a task in tasks/ (mostly tasks/sst2_best.prompt) plus overrides, run as `promptc train` runs it.

    python -m benchmarks.best_sst2 --split validation --seeds 13 [--configs a,b,…]
    python -m benchmarks.best_sst2 --split dev [--seeds 13,21,42,87,100] [--configs a,b,…]

`--split validation` evaluates on rows held out of the TRAIN file (never the dev set), which is
what configurations are chosen on; `--split dev` evaluates on all 872 dev sentences. Each
(config, seed) is one run directory under runs/best-sst2/<split>/ (kept; a finished run is not
repeated, so the command resumes). Prints one JSON line per run and the table: mean ± std over
the seeds, each seed's accuracy, mean wall time per run.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics

from .task_runs import REPO, TASKS, run_task

OUT = REPO / "runs" / "best-sst2"
SEEDS = (13, 21, 42, 87, 100)             # LM-BFF's sample seeds
# config -> (task file, task name, overrides)
CONFIGS = {
    "pt+lora": ("sst2_lora.prompt", "sst2_prompt_lora", {}),
    "pt+lora lr 5e-4": ("sst2_lora.prompt", "sst2_prompt_lora", {"train.learning_rate": "5e-4"}),
    "pt+lora lr 2e-3": ("sst2_lora.prompt", "sst2_prompt_lora", {"train.learning_rate": "2e-3"}),
    "pt+lora 20 epochs": ("sst2_lora.prompt", "sst2_prompt_lora", {"train.epochs": "20"}),
    "pt+lora calibrated": ("sst2_best.prompt", "sst2_best_calibrated", {}),
    "pt+lora question": ("sst2_best.prompt", "sst2_best_question", {}),
    "pt+lora great": ("sst2_best.prompt", "sst2_best_great", {}),
    "pt+lora demos": ("sst2_best.prompt", "sst2_best_demos", {}),
    "pt+lora ensemble": ("sst2_best.prompt", "sst2_best_ensemble", {}),
    "pt+lora ensemble 20 epochs": ("sst2_best.prompt", "sst2_best_ensemble",
                                   {"train.epochs": "20"}),
    "pt+lora calibrated 20 epochs": ("sst2_best.prompt", "sst2_best_calibrated",
                                     {"train.epochs": "20"}),
    "pt+lora all linear": ("sst2_best.prompt", "sst2_best_lora_all", {}),
}
VALIDATION_PER_LABEL = 200
VALIDATION_MIN_WORDS = 10                 # dev holds whole sentences (median 19 words), not phrases


def validation_file():
    """Rows of the train file held out for choosing configurations, written once: 200 per label,
    drawn with seed 0 among rows of >= 10 words that no seed's 16-shot sample contains."""
    path = OUT / "validation.tsv"
    if path.is_file():
        return path
    import numpy as np
    from promptdsl.data.readers import read_table
    from promptdsl.data.sampling import sample_per_label
    train = TASKS / "data" / "sst2" / "train.tsv"
    table = read_table(train)
    held = {line for seed in SEEDS                 # source lines of every seed's 16-shot rows
            for line in sample_per_label(table, "label", 16, seed).lines}
    with open(train, encoding="utf-8", newline="") as f:
        header, *body = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    sentence, label = header.index("sentence"), header.index("label")
    pools: dict = {}
    for line, row in enumerate(body, start=2):     # the header is line 1
        if len(row[sentence].split()) >= VALIDATION_MIN_WORDS and line not in held:
            pools.setdefault(row[label], []).append(row)
    rng = np.random.default_rng(0)
    picked = [pool[i] for _, pool in sorted(pools.items())
              for i in sorted(rng.choice(len(pool), VALIDATION_PER_LABEL, replace=False))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\",
                            lineterminator="\n")
        writer.writerow(header)
        writer.writerows(picked)
    return path


def table(results: dict) -> str:
    lines = ["| config | accuracy (mean ± std) | per seed | wall per run |",
             "| --- | --- | --- | --- |"]
    for config, runs in results.items():
        accuracies = [100 * r["test"]["accuracy"] for r in runs]
        mean = f"{statistics.mean(accuracies):.2f}"
        if len(accuracies) > 1:                  # one seed has no spread to show
            mean += f" ± {statistics.stdev(accuracies):.2f}"
        wall = statistics.mean(r.get("wall_seconds") or 0 for r in runs)
        per_seed = ", ".join(f"{r['sample_seed']}: {a:.2f}" for r, a in zip(runs, accuracies))
        lines.append(f"| {config} | {mean} | {per_seed} | {wall:.0f} s |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.best_sst2", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=("validation", "dev"), required=True)
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names")
    p.add_argument("--finished-only", action="store_true",
                   help="run nothing; report the runs already finished")
    args = p.parse_args(argv)
    configs = args.configs.split(",")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown config {unknown[0]!r}; known: {', '.join(CONFIGS)}")
    split = {} if args.split == "dev" else {"data.test": json.dumps(str(validation_file()))}
    folder = OUT / args.split
    results: dict = {}
    # seed by seed, so an interrupted command still has every config at the first seeds
    for seed in (int(s) for s in args.seeds.split(",")):
        for config in configs:
            out = folder / f"{config.replace(' ', '_')}-seed{seed}"
            if args.finished_only and not (out / "summary.json").is_file():
                continue
            file, name, overrides = CONFIGS[config]
            summary = run_task(TASKS / file, name,
                               {**overrides, **split, "data.sample_seed": str(seed)}, out)
            print(json.dumps({"config": config, "seed": seed,
                              "accuracy": summary["test"]["accuracy"],
                              "wall_seconds": summary.get("wall_seconds")}), flush=True)
            results.setdefault(config, []).append(summary)
    print(table({c: results[c] for c in configs if c in results}))


if __name__ == "__main__":
    main()

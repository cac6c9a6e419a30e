"""Verbalizers, calibration, PET and in-context learning on SmolLM2 with real data.

    python -m benchmarks.verbalizers [--out runs/bench-verbalizers] [--notes]

Runs the task files of tasks/ on fixed subsamples (CPU is slow): AG News test 500 rows
(seeded shuffle, seed 0) with 200 unlabelled rows (the first 200 of
tasks/data/ag_news/unlabeled1k.tsv) — manual vs manual + prior calibration vs KPT; SST-2 dev 200
rows (seeded shuffle, seed 0) — in-context learning with one demonstration per label vs none,
and the 16-shot PET ensemble vs its single templates. A run whose summary.json exists under
--out is reused. --notes writes the table into benchmarks/NOTES.md (section `verbalizers`).
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = ROOT / "tasks"

# (run name, task file, task name, overrides: a subsample's name or the value's text)
RUNS = [
    ("agnews_manual", "agnews.prompt", "agnews", {"data.test": "agnews_test"}),
    ("agnews_calibrated", "agnews_kpt.prompt", "agnews_calibrated",
     {"data.test": "agnews_test", "data.unlabeled": "agnews_unlabeled"}),
    ("agnews_contextual", "agnews_kpt.prompt", "agnews_contextual", {"data.test": "agnews_test"}),
    ("agnews_kpt", "agnews_kpt.prompt", "agnews_kpt",
     {"data.test": "agnews_test", "data.unlabeled": "agnews_unlabeled"}),
    ("agnews_kpt_first", "agnews_kpt.prompt", "agnews_kpt",
     {"data.test": "agnews_test", "data.unlabeled": "agnews_unlabeled",
      "verbalizer.multi_token": "first"}),
    ("agnews_kpt_norefine", "agnews_kpt.prompt", "agnews_kpt",
     {"data.test": "agnews_test", "data.unlabeled": "agnews_unlabeled", "verbalizer.refine": "[]"}),
    ("sst2_no_demos", "sst2_icl.prompt", "sst2_no_demos", {"data.test": "sst2_dev"}),
    ("sst2_icl", "sst2_icl.prompt", "sst2_icl", {"data.test": "sst2_dev"}),
    ("sst2_icl_contextual", "sst2_icl.prompt", "sst2_icl",
     {"data.test": "sst2_dev", "verbalizer.calibrate": "contextual"}),
    ("sst2_pet", "sst2_pet.prompt", "sst2_pet", {"data.test": "sst2_dev"}),
    ("sst2_pet_weighted", "sst2_pet.prompt", "sst2_pet_weighted", {"data.test": "sst2_dev"}),
]


def shuffled_head(source: Path, target: Path, rows: int, seed: int = 0, shuffle: bool = True):
    lines = source.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    if shuffle:
        random.Random(seed).shuffle(body)
    target.write_text("\n".join([header] + body[:rows]) + "\n", encoding="utf-8")
    return target


def subsamples(folder: Path, args) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    data = TASKS / "data"
    return {
        "agnews_test": shuffled_head(data / "ag_news" / "test.tsv",
                                     folder / f"agnews_test{args.agnews_rows}.tsv",
                                     args.agnews_rows),
        "agnews_unlabeled": shuffled_head(data / "ag_news" / "unlabeled1k.tsv",
                                          folder / f"agnews_unl{args.unlabeled_rows}.tsv",
                                          args.unlabeled_rows, shuffle=False),
        "sst2_dev": shuffled_head(data / "sst2" / "dev.tsv",
                                  folder / f"sst2_dev{args.sst2_rows}.tsv", args.sst2_rows),
    }


def run_all(args) -> dict:
    import promptdsl
    from promptdsl.train.runner import train_task
    out = Path(args.out)
    files = subsamples(out / "data", args)
    summaries = {}
    for name, task_file, task_name, overrides in RUNS:
        if args.only and not any(name.startswith(o) for o in args.only.split(",")):
            continue
        run_dir = out / name
        if (run_dir / "summary.json").is_file():
            summaries[name] = json.loads((run_dir / "summary.json").read_text())
            continue
        values = {key: json.dumps(str(files[ref])) if ref in files else ref
                  for key, ref in overrides.items()}
        task = promptdsl.load(TASKS / task_file, task=task_name, overrides=values)
        print(f"== {name}: {task_file} --task {task_name}", flush=True)
        summaries[name] = train_task(task, out=run_dir)
    return summaries


def pct(metrics) -> str:
    return "—" if not metrics else f"{100 * metrics['accuracy']:.1f}"


def table(summaries: dict, args) -> str:
    get = lambda name: (summaries.get(name) or {}).get("test")  # noqa: E731
    lines = [
        "## Verbalizers, calibration, PET and demonstrations (SmolLM2-135M-Instruct, CPU)",
        "",
        "`python -m benchmarks.verbalizers --notes` (task files in tasks/; fixed subsamples "
        f"because CPU is slow: AG News test {args.agnews_rows} rows, SST-2 dev {args.sst2_rows} "
        "rows, each a seeded shuffle (seed 0); unlabelled AG News: the first "
        f"{args.unlabeled_rows} rows of tasks/data/ag_news/unlabeled1k.tsv). Accuracy in %.",
        "",
        "| experiment | setting | accuracy |",
        "| --- | --- | ---: |",
        f"| AG News zero-shot | manual words (tasks/agnews.prompt) | {pct(get('agnews_manual'))} |",
        f"| | manual + `calibrate: contextual` | {pct(get('agnews_contextual'))} |",
        f"| | manual + `calibrate: prior` | {pct(get('agnews_calibrated'))} |",
        f"| | KPT: expanded + refined + `calibrate: prior` (tasks/agnews_kpt.prompt) | "
        f"{pct(get('agnews_kpt'))} |",
        f"| | KPT as above, `multi_token: first` | {pct(get('agnews_kpt_first'))} |",
        f"| | KPT without refinement (`refine: []`) | {pct(get('agnews_kpt_norefine'))} |",
        f"| SST-2 ICL (zero_shot) | no demonstrations | {pct(get('sst2_no_demos'))} |",
        f"| | 1 demonstration per label (tasks/sst2_icl.prompt) | {pct(get('sst2_icl'))} |",
        f"| | 1 per label + `calibrate: contextual` | {pct(get('sst2_icl_contextual'))} |",
    ]
    pet = get("sst2_pet") or {}
    for i, (member, metrics) in enumerate((pet.get("members") or {}).items()):
        first = "SST-2 16-shot PET (sample seed 13)" if i == 0 else ""
        lines.append(f"| {first} | template `{member}` alone | {pct(metrics)} |")
    if pet:
        lines.append(f"| | ensemble of the templates (tasks/sst2_pet.prompt) | {pct(pet)} |")
    lines.append(f"| | ensemble, `weighting: accuracy` (task sst2_pet_weighted) | "
                 f"{pct(get('sst2_pet_weighted'))} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-verbalizers"))
    parser.add_argument("--agnews-rows", type=int, default=500)
    parser.add_argument("--unlabeled-rows", type=int, default=200)
    parser.add_argument("--sst2-rows", type=int, default=200)
    parser.add_argument("--only", default="", help="comma-separated run-name prefixes")
    parser.add_argument("--notes", action="store_true", help="write benchmarks/NOTES.md")
    args = parser.parse_args(argv)
    text = table(run_all(args), args)
    print(text)
    if args.notes:
        from .notes import write_section
        write_section(text, "verbalizers")


if __name__ == "__main__":
    main()

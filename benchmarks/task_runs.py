"""Task-file runs for the benchmarks: one run directory per (task, settings), kept, so a
command that is interrupted resumes where it stopped; fixed row samples of a data file.

    run_task(TASKS / "sst2.prompt", "sst2", {"data.sample_seed": "13"}, out)
    sample_file(TASKS / "data" / "ag_news" / "test.tsv", 500, out_path)
"""
from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TASKS = REPO / "tasks"
RUNS = REPO / "runs"


def run_task(file, name: str, overrides: dict, out: Path) -> dict:
    """The summary of task `name` of `file` trained and evaluated as `promptc train` runs it,
    with `overrides` (dotted keys → value text, as `--set`), in run directory `out`; a finished
    run is read back, an interrupted one started again."""
    from promptdsl.api import load
    from promptdsl.train.runner import train_task
    if (out / "summary.json").is_file():
        return json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if out.exists():
        shutil.rmtree(out)
    task = load(str(file), task=name, overrides=overrides)
    return train_task(task, out=out, progress=False, echo=lambda *a, **k: None)


def sample_file(source: Path, rows: int, path: Path, seed: int = 0) -> Path:
    """`rows` rows of the TSV `source` drawn with `seed` (file order kept), written once."""
    if path.is_file():
        return path
    with open(source, encoding="utf-8", newline="") as f:
        header, *body = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    picked = sorted(random.Random(seed).sample(range(len(body)), min(rows, len(body))))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\",
                            lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body[i] for i in picked)
    return path

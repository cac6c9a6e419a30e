"""The benchmark's data: SST-2 from the repo's copy (tasks/data/sst2), or a folder given with
--data holding train.tsv and dev.tsv (header `sentence<TAB>label`, no quoting)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = (REPO / "tasks" / "data" / "sst2", REPO / "data" / "sst2")

# The template every framework renders: one field and the mask (soft methods add soft tokens).
# A causal model predicts the next token, so there the mask ends the template.
TEMPLATES = {"mlm": "{sentence} It was [MASK] .", "causal": "{sentence} It was [MASK]"}
LABEL_WORDS = {"0": "terrible", "1": "great"}


class DataMissing(RuntimeError):
    pass


@dataclass
class Split:
    sentences: list
    labels: list           # label strings ("0"/"1")
    path: Path


def find_folder(explicit: str | None = None) -> Path:
    folders = [Path(explicit)] if explicit else list(CANDIDATES)
    for folder in folders:
        if (folder / "train.tsv").is_file() and (folder / "dev.tsv").is_file():
            return folder
    raise DataMissing("SST-2 not found: looked for train.tsv and dev.tsv in "
                      + ", ".join(str(f) for f in folders) + " (give a folder with --data)")


def read_split(path: Path, limit: int | None = None) -> Split:
    sentences, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            sentences.append(row["sentence"].strip())
            labels.append(row["label"].strip())
            if limit is not None and len(sentences) >= limit:
                break
    return Split(sentences, labels, path)


def load(folder: Path, train_limit: int | None = None, dev_limit: int | None = None):
    return (read_split(folder / "train.tsv", train_limit),
            read_split(folder / "dev.tsv", dev_limit))


def write_split(split: Split, path: Path) -> Path:
    """Write (a subset of) a split as a TSV the frameworks read; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("sentence\tlabel\n")
        for s, y in zip(split.sentences, split.labels):
            f.write(f"{s}\t{y}\n")
    return path

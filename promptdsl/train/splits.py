"""Data splits as the trainer sees them: a read Table encoded through one PromptModel, with
deterministic batches. Reading, few-shot sampling, rendering, label mapping, bucketing and
collating belong to `promptdsl.data`; this module only wires them to one model."""
from __future__ import annotations

from ..data import read_table, sample_per_label
from ..data.sampling import take_rows
from ..errors import DataError

SPLITS = ("train", "validation", "test", "unlabeled")
FINAL_SPLITS = ("test", "validation")   # what a run reports: test, else validation


def read_split(task: dict, split: str):
    """The Table of `data.<split>` (None when the task has none), cut to `data.<split>_rows`
    rows (`data.take`: the first, or a sample drawn with `data.sample_seed`); DataError on bad
    data."""
    data = task["data"]
    path = data[split]
    if not path:
        return None
    table = read_table(path)
    table.require_rows(f"data.{split}")
    if split != "unlabeled" and task.get("target") is None:
        table.require_columns([data["label"]], role="label column")
    return take_rows(table, data[f"{split}_rows"], data["take"], data["sample_seed"])


def final_split_name(task: dict, wanted: str | None = None) -> str:
    """The split a run is scored on: `wanted`, else test, else validation."""
    names = [wanted] if wanted else FINAL_SPLITS
    for name in names:
        if task["data"][name]:
            return name
    raise DataError(f"the task has no data.{' or data.'.join(names)} to evaluate on",
                    task["file"])


def few_shot(task: dict, table):
    """`data.shots` examples per label drawn from `table` with `data.sample_seed`."""
    shots = task["data"]["shots"]
    if not shots or table is None:
        return table
    if task.get("target") is not None:
        raise DataError("data.shots draws rows per label, and a generation task has no labels: "
                        "use data.train_rows (with take: sample)", task["file"])
    labels = [entry["label"] for entry in task["verbalizer"]["labels"]]
    return sample_per_label(table, task["data"]["label"], int(shots),
                            int(task["data"]["sample_seed"]), labels=labels)


class EncodedSplit:
    """One split rendered and tokenized through one model (its template, tokenizer and any
    demonstrations): `features` (labels as class indices; a label the verbalizer lacks is a
    DataError at its line) and batches."""

    def __init__(self, name: str, model, table, labelled: bool | None = True):
        from ..data import PromptDataset
        self.name = name
        self.table = table
        # labelled: True requires the label column, None reads it when present, False ignores it
        self.features = model.encode(table, labels=labelled)
        self.dataset = PromptDataset(self.features)

    def __len__(self) -> int:
        return len(self.features)

    @property
    def has_labels(self) -> bool:
        """Whether the rows carry their gold answer: labels, or a generation task's targets."""
        return self.features.labels is not None or self.features.has_targets

    @property
    def label_indices(self) -> list:
        return self.features.labels.tolist() if self.features.labels is not None else []

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def train_batches(self, batch_size: int, seed: int, epoch: int = 0):
        """(indices, batch) length-bucketed and shuffled; the order depends on seed and epoch."""
        return self.dataset.train_batches(batch_size, seed, epoch)

    def epoch_batches(self, batch_size: int, seed: int, epoch: int = 0) -> list:
        """The row indices of each batch of one epoch, in the order `train_batches` gives."""
        return self.dataset.epoch_batches(batch_size, seed, epoch)

    def collated(self, batches: list):
        """(indices, batch) for lists of row indices (a resumed epoch's rest, a rank's share)."""
        return self.dataset.collated(batches)

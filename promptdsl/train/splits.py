"""Data splits as the trainer sees them: a read Table encoded through one PromptModel, with
deterministic batches. Reading, few-shot sampling, rendering, label mapping, bucketing and
collating belong to `promptdsl.data`; this module only wires them to one model."""
from __future__ import annotations

from ..data import read_table
from ..data.batching import eval_batches, train_batches

SPLITS = ("train", "validation", "test", "unlabeled")


def read_split(task: dict, split: str):
    """The Table of `data.<split>` (None when the task has none); DataError on bad data."""
    path = task["data"].get(split)
    if not path:
        return None
    table = read_table(path)
    table.require_rows(f"data.{split}")
    if split != "unlabeled":
        table.require_columns([task["data"]["label"]], role="label column")
    return table


def few_shot(task: dict, table):
    """`data.shots` examples per label drawn from `table` with `data.sample_seed`."""
    shots = task["data"].get("shots")
    if not shots or table is None:
        return table
    from ..data.sampler import sample_per_label
    labels = [entry["label"] for entry in task["verbalizer"]["labels"]]
    return sample_per_label(table, task["data"]["label"], int(shots),
                            int(task["data"]["sample_seed"]), labels=labels)


class EncodedSplit:
    """One split rendered and tokenized through one model (labels as class indices when the
    table has the label column)."""

    def __init__(self, name: str, model, table, labelled: bool = True):
        self.name = name
        self.table = table
        self.model = model
        self.features = model.encode(table) if labelled else model.encode(table, labels=False)
        self.lengths = self.features.lengths

    def __len__(self) -> int:
        return len(self.features)

    @property
    def has_labels(self) -> bool:
        return self.features.labels is not None

    @property
    def label_indices(self) -> list:
        return self.features.labels.tolist() if self.has_labels else []

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def _batch(self, indices: list):
        return indices, self.model.collate(self.features, indices)

    def train_batches(self, batch_size: int, seed: int, epoch: int = 0):
        """Length-bucketed, shuffled batches; the order depends only on seed and epoch."""
        for indices in train_batches(self.lengths, batch_size, seed, epoch):
            yield self._batch(indices)

    def eval_batches(self, batch_size: int):
        """Batches of similar length (less padding); callers put results back in row order."""
        for indices in eval_batches(self.lengths, batch_size):
            yield self._batch(indices)

"""iPET's pseudo-labelled training sets: the most confident unlabelled rows per label."""
from __future__ import annotations

import torch

from promptdsl.data import Table


def pseudo_labelled(train: Table, unlabeled: Table, logits: torch.Tensor, labels: list,
                    label_column: str, size: int) -> Table:
    """`train` plus up to `size` rows of `unlabeled` labelled by `logits` [N, L]: for each label,
    the size/L rows predicted as that label with the highest probability."""
    probs = logits.softmax(-1)
    confidence, predicted = probs.max(-1)
    per_label = max(1, size // len(labels))
    chosen = []
    for index in range(len(labels)):
        rows = (predicted == index).nonzero().squeeze(1)
        best = rows[confidence[rows].argsort(descending=True)[:per_label]]
        chosen.extend((int(i), labels[index]) for i in best)
    columns = list(dict.fromkeys([*train.columns, *unlabeled.columns, label_column]))
    rows = [dict(r) for r in train.rows]
    rows += [{**unlabeled.rows[i], label_column: str(label)} for i, label in chosen]
    lines = list(train.lines) + [unlabeled.lines[i] for i, _ in chosen]
    return Table(train.path, columns, rows, lines, train.header_line, dict(train.meta))

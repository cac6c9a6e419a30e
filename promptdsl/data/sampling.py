"""Per-label few-shot sampling: `shots` rows of every label, reproducible from `sample_seed`."""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .table import Table


def sample_per_label(table: Table, label_column: str, shots: int, seed: int,
                     labels: list | None = None) -> Table:
    """A Table with `shots` rows of each label (of `labels`, default every label in the file),
    drawn without replacement with `seed`; rows keep the file order. DataError when a label has
    fewer rows than asked."""
    values = table.column(label_column, role="label column")
    by_label: dict = {}
    for i, value in enumerate(values):
        by_label.setdefault(value, []).append(i)
    wanted = [str(x) for x in labels] if labels is not None else sorted(by_label)
    rng = np.random.default_rng(int(seed))
    chosen = []
    for label in wanted:
        pool = by_label.get(label, [])
        if len(pool) < shots:
            raise DataError(f"shots: {shots} asks for {shots} rows of label {label!r}, but the "
                            f"file has {len(pool)}", table.path)
        chosen.extend(np.asarray(pool)[rng.choice(len(pool), size=shots, replace=False)].tolist())
    return table.subset(sorted(chosen))

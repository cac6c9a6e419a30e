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


def take_rows(table: Table, count: int | None, how: str, seed: int) -> Table:
    """At most `count` rows of `table` (None: all): the first ones (`how="first"`), or a sample
    drawn with `seed` (`"sample"`) that keeps the file order."""
    if count is None or count >= len(table):
        return table
    if how == "first":
        return table.subset(range(int(count)))
    rng = np.random.default_rng(int(seed))
    return table.subset(sorted(rng.choice(len(table), size=int(count), replace=False).tolist()))

"""Label values -> class indices (the position of the label in the verbalizer)."""
from __future__ import annotations

import numpy as np

from .table import Table, did_you_mean


def label_indices(table: Table, column: str, labels: list) -> np.ndarray:
    """Index of each row's label in `labels`; DataError at the first row whose label the
    verbalizer does not know (with a did-you-mean)."""
    index = {label: i for i, label in enumerate(labels)}
    values = table.column(column, role="label column")
    out = np.empty(len(values), np.int64)
    for i, value in enumerate(values):
        found = index.get(value)
        if found is None:
            found = index.get(value.strip())
        if found is None:
            known = ", ".join(repr(x) for x in labels)
            raise table.error(i, f"label {value!r} is not one the verbalizer knows ({known})"
                                 f"{did_you_mean(value, labels)}")
        out[i] = found
    return out

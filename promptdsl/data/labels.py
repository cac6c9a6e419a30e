"""Label values -> class indices (the position of the label in the verbalizer)."""
from __future__ import annotations

import numpy as np

from .table import Table, did_you_mean


def label_indices(table: Table, column: str, labels: list) -> np.ndarray:
    """Index of each row's label in `labels`; DataError at the first row whose label the
    verbalizer does not know (with a did-you-mean)."""
    index = {label: i for i, label in enumerate(labels)}
    values = table.column(column, role="label column")
    found = [index.get(v, -1) for v in values]  # one dict lookup per row, no Python branches
    if -1 in found:
        for i, value in enumerate(values):
            if found[i] == -1:
                found[i] = index.get(value.strip(), -1)  # " 1" in a hand-edited file is 1
            if found[i] == -1 and not value.strip():
                raise table.error(i, f"the label column '{column}' is empty in this row")
            if found[i] == -1:
                known = ", ".join(repr(x) for x in labels)
                raise table.error(i, f"label {value!r} is not one the verbalizer knows "
                                     f"({known}){did_you_mean(value, labels)}")
    return np.asarray(found, np.int64)

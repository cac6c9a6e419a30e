"""Reading a data file through the data-format plugin that its extension selects."""
from __future__ import annotations

import os

from ..errors import DataError
from ..registry import get_registry
from .table import Table


def format_for(path):
    """The DataFormatSpec for `path`; DataError listing the known extensions when none fits."""
    spec = get_registry().format_for(path)
    if spec is None:
        known = sorted({ext for s in get_registry().data_formats.values() for ext in s.extensions})
        raise DataError(f"no data format reads this kind of file; known extensions: "
                        f"{', '.join(known) or '(none: no data-format plugin is loaded)'}",
                        os.fspath(path))
    return spec


def read_table(path) -> Table:
    """The whole file as a Table (DataError with file and line on bad data)."""
    return format_for(path).read(path)


def read_header(path) -> list:
    """The column names only, reading no further than the header (first record)."""
    return format_for(path).read_header(path)

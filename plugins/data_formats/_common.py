"""Helpers shared by the built-in readers (not a format: modules starting with `_` are skipped)."""
from __future__ import annotations

from promptdsl.errors import DataError


def check_header(columns: list, path, line: int) -> list:
    """Column names must be non-empty and distinct."""
    seen = set()
    for position, name in enumerate(columns, start=1):
        if not name.strip():
            raise DataError(f"column {position} of the header has no name", path, line)
        if name in seen:
            raise DataError(f"the header names the column '{name}' twice", path, line)
        seen.add(name)
    return columns


def ragged(path, line: int, columns: list, got: int) -> DataError:
    return DataError(f"this row has {got} field{'s' if got != 1 else ''} but the header has "
                     f"{len(columns)} ({', '.join(columns)})", path, line)

"""`Table`: what every data-format reader returns — column names, rows of strings, and where each
row came from (so later stages can name `file:line` in their errors)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import diagnostics
from ..errors import DataError


def did_you_mean(name: str, choices) -> str:
    """A ` (did you mean 'x'?)` suffix for data errors (the closest choice by the one rule in
    promptdsl.diagnostics), or ""."""
    close = diagnostics.did_you_mean(name, list(choices))
    return f" (did you mean '{close}'?)" if close else ""


@dataclass
class Table:
    """Rows read from one data file.

    `rows[i]` maps every column to a string; `lines[i]` is the 1-based line in `path` where that
    row starts. `header_line` is the line of the header (None for formats without one).
    """
    path: str
    columns: list
    rows: list
    lines: list
    header_line: int | None = 1
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def where(self, index: int) -> tuple:
        """(path, line) of row `index`, for error messages."""
        return self.path, self.lines[index]

    def error(self, index: int | None, message: str) -> DataError:
        """A DataError located at row `index` (or at the file when None)."""
        return DataError(message, self.path, None if index is None else self.lines[index])

    def require_columns(self, names, role: str = "column") -> None:
        """Raise DataError naming the first of `names` that is not a column."""
        for name in names:
            if name not in self.columns:
                known = ", ".join(repr(c) for c in self.columns)
                raise DataError(f"no {role} '{name}'{did_you_mean(name, self.columns)}; "
                                f"the columns are: {known}", self.path, self.header_line)

    def require_rows(self, purpose: str = "this split") -> None:
        """Raise DataError when the file has a header but no rows."""
        if not self.rows:
            raise DataError(f"the file has a header but no rows, so it cannot be used for "
                            f"{purpose}", self.path, self.header_line)

    def column(self, name: str, role: str = "column") -> list:
        """All values of one column (DataError with a did-you-mean when it does not exist)."""
        self.require_columns([name], role)
        return [row[name] for row in self.rows]

    def subset(self, indices) -> "Table":
        """A new Table holding rows `indices` (in that order), keeping their source lines."""
        indices = list(indices)
        return Table(self.path, list(self.columns), [self.rows[i] for i in indices],
                     [self.lines[i] for i in indices], self.header_line, dict(self.meta))

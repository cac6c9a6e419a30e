"""What `check` keeps of a data file between runs, so an unchanged file is not read again.

A check needs of a data file only its columns, its row lines, and the values of its label-like
columns (label words, `shots`); the text columns are what makes reading slow (SST-2's train
file: 67k sentences, most of an interactive check). So a file that read cleanly leaves a JSON
summary in `cache_dir("tables")`, keyed by its path, size, modification time and reader, holding
every column with few distinct values. A column the summary lacks is read from the file when
asked for; a file that failed to read is never cached (its error is found again)."""
from __future__ import annotations

import hashlib
import json
import os

from ..cachefile import write_cache_json
from ..data import Table

FEW_VALUES = 1000          # a column with more distinct values is text, not a label
MIN_ROWS = 5000            # a smaller file reads as fast as its summary: not worth keeping
FORMAT = 1                 # bump when the summary's layout changes


class _Rows:
    """The summary's rows as a sequence of dicts, each made only when asked for (a check asks
    for the few rows `shots` samples, never all of them)."""

    def __init__(self, kept: dict, count: int):
        self._kept, self._count = kept, count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> dict:
        return {name: values[i] for name, values in self._kept.items()}


class SummaryTable(Table):
    """A Table whose rows hold only the summarised columns; `column()` of another column
    reads the whole file once."""

    def __init__(self, summary: dict, path: str, load):
        kept, lines = summary["kept"], summary["lines"]
        super().__init__(path, summary["columns"], _Rows(kept, len(lines)), lines,
                         summary["header_line"])
        self._kept, self._load, self._full = kept, load, None

    def column(self, name: str, role: str = "column") -> list:
        if name in self._kept:
            return list(self._kept[name])
        if name not in self.columns:
            return super().column(name, role)      # the usual located error
        if self._full is None:
            self._full = self._load()
        return self._full.column(name, role)


def _key(spec, path: str) -> str | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    from .. import __version__
    ident = [FORMAT, __version__, spec.name, os.path.abspath(path), stat.st_size,
             stat.st_mtime_ns]
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:32]


def _file(key: str):
    from .. import cache_dir
    return cache_dir("tables") / f"{key}.json"


def cached_read(spec, path: str) -> Table:
    """`spec.read(path)`, or the summary of the same unchanged file from an earlier check."""
    key = _key(spec, path)
    if key is not None:
        try:
            summary = json.loads(_file(key).read_text("utf-8"))
            return SummaryTable(summary, path, lambda: spec.read(path))
        except (OSError, ValueError, KeyError, TypeError):
            pass                          # no summary yet, or a damaged one: read the file
    table = spec.read(path)
    if key is not None and isinstance(table, Table) and table.columns and len(table) >= MIN_ROWS:
        _save(key, table)
    return table


def _save(key: str, table: Table) -> None:
    kept = {}
    for column in table.columns:
        values = [row[column] for row in table.rows]
        if len(set(values)) <= FEW_VALUES:
            kept[column] = values
    summary = {"columns": list(table.columns), "header_line": table.header_line,
               "lines": list(table.lines), "kept": kept}
    write_cache_json(_file(key), summary)

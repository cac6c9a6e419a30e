"""JSON Lines: one JSON object per line, UTF-8. The first object's keys are the columns; every
later object must have them (extra keys are ignored). Values become strings: strings as they
are, null as "", anything else as its JSON text (1, 0.5, true, [1, 2])."""
from __future__ import annotations

import json
import os

from promptdsl import DataFormatSpec
from promptdsl.data import Table, first_line, read_text, split_lines
from promptdsl.errors import DataError

from ._common import check_header


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _parse(line: str, path, number: int) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON: {err.msg} (column {err.colno})", path, number) from None
    if not isinstance(record, dict):
        raise DataError(f"each line must be a JSON object {{…}}, this one is a "
                        f"{type(record).__name__}", path, number)
    return record


def read_header(path) -> list:
    number, line = first_line(path)
    return check_header(list(_parse(line, os.fspath(path), number)), os.fspath(path), number)


def read(path) -> Table:
    path = os.fspath(path)
    columns, header_line = None, None
    rows, lines = [], []
    for number, line in split_lines(read_text(path)):
        if not line.strip():
            continue
        record = _parse(line, path, number)
        if columns is None:
            columns, header_line = check_header(list(record), path, number), number
        missing = [c for c in columns if c not in record]
        if missing:
            raise DataError(f"this object lacks the key{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(repr(m) for m in missing)} that the first object has",
                            path, number)
        rows.append({c: _as_text(record[c]) for c in columns})
        lines.append(number)
    return Table(path, columns, rows, lines, header_line)


SPECS = [DataFormatSpec(name="jsonl", extensions=(".jsonl", ".ndjson"), read=read,
                        read_header=read_header)]

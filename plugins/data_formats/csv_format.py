"""Comma-separated files (RFC 4180: double quotes around fields that hold commas, quotes or
line breaks; `""` is a literal quote), one header record, UTF-8."""
from __future__ import annotations

import csv
import io
import os

from promptdsl import DataFormatSpec
from promptdsl.data import Table, first_line, read_text
from promptdsl.errors import DataError

from ._common import check_header, ragged


def _records(text: str, path):
    """Yield (first line of the record, fields), skipping blank lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    last = 0
    try:
        for fields in reader:
            start, last = last + 1, reader.line_num
            if fields:  # csv yields [] for a blank line
                yield start, fields
    except csv.Error as err:
        raise DataError(f"malformed CSV: {err}", path, reader.line_num) from None


def read_header(path) -> list:
    number, line = first_line(path)
    for _, fields in _records(line, path):
        return check_header(fields, os.fspath(path), number)
    raise DataError("the file is empty", os.fspath(path), 1)  # pragma: no cover


def read(path) -> Table:
    path = os.fspath(path)
    columns, header_line = None, None
    rows, lines = [], []
    for number, fields in _records(read_text(path), path):
        if columns is None:
            columns, header_line = check_header(fields, path, number), number
            continue
        if len(fields) != len(columns):
            raise ragged(path, number, columns, len(fields))
        rows.append(dict(zip(columns, fields)))
        lines.append(number)
    return Table(path, columns, rows, lines, header_line)


SPECS = [DataFormatSpec(name="csv", extensions=(".csv",), read=read, read_header=read_header)]

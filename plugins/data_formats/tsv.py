"""Tab-separated files: one header line, no quoting at all (csv.QUOTE_NONE), UTF-8.

A field holds everything between two tabs verbatim (quotes included). Blank lines are skipped.
"""
from __future__ import annotations

import os

from promptdsl import DataFormatSpec
from promptdsl.data import Table, first_line, read_text, split_lines

from ._common import check_header, ragged


def read_header(path) -> list:
    number, line = first_line(path)
    return check_header(line.split("\t"), os.fspath(path), number)


def read(path) -> Table:
    path = os.fspath(path)
    columns, header_line = None, None
    rows, lines = [], []
    width = 0
    for number, line in split_lines(read_text(path)):
        if not line:
            continue
        fields = line.split("\t")
        if columns is None:
            columns, header_line, width = check_header(fields, path, number), number, len(fields)
            continue
        if len(fields) != width:
            raise ragged(path, number, columns, len(fields))
        rows.append(dict(zip(columns, fields)))
        lines.append(number)
    return Table(path, columns, rows, lines, header_line)


SPECS = [DataFormatSpec(name="tsv", extensions=(".tsv", ".tab"), read=read,
                        read_header=read_header)]

"""Reading a data file's bytes as UTF-8 text, with errors that name the file and line.

Shared by the built-in format readers (and usable by third-party ones)."""
from __future__ import annotations

import os

from ..errors import DataError

BOM = "\ufeff"


def _check_file(path) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError("the data file does not exist", path)
    if os.path.isdir(path):
        raise DataError("this is a folder, not a data file", path)
    return path


def decode(data: bytes, path, first_line: int = 1) -> str:
    """UTF-8 text of `data` (a leading BOM dropped); undecodable bytes name their line.

    `first_line` is the line number `data` starts at (when decoding one line at a time)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + first_line
        bad = data[err.start:err.end].hex(" ")
        raise DataError(f"bytes that are not UTF-8 ({bad}) at byte {err.start}; "
                        "save the file as UTF-8", os.fspath(path), line) from None
    return text[1:] if text.startswith(BOM) else text


def read_text(path) -> str:
    """The whole file as text; DataError when it is missing, a folder, empty, or not UTF-8."""
    path = _check_file(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise DataError(f"cannot read the file: {err.strerror}", path) from None
    text = decode(data, path)
    if not text.strip():
        raise DataError("the file is empty", path, 1)
    return text


def first_line(path) -> tuple:
    """(line number, text) of the first non-blank line, without its line end; reads only as far
    as needed."""
    path = _check_file(path)
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                text = decode(raw, path, number).rstrip("\r\n")
                if text.strip():
                    return number, text
    except OSError as err:
        raise DataError(f"cannot read the file: {err.strerror}", path) from None
    raise DataError("the file is empty", path, 1)


def split_lines(text: str):
    """Yield (1-based line number, line) for every line, without line ends ('\\n' or '\\r\\n').

    Only '\\n' ends a line: other Unicode separators may legally sit inside a text field."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line[:-1] if line.endswith("\r") else line

"""Reading a data file's bytes as UTF-8 text, with errors that name the file and line.

Shared by the built-in format readers (and usable by third-party ones)."""
from __future__ import annotations

import os
import re

from ..errors import DataError

BOM = "\ufeff"
LINE_END = re.compile(r"\r\n|\r|\n")
BYTE_LINE_END = re.compile(rb"\r\n|\r|\n")


def check_file(path) -> str:
    """`path` as a string if it is a regular file a reader may open; DataError naming why not
    (missing, a folder, a pipe, socket or device)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError("the data file does not exist", path)
    if os.path.isdir(path):
        raise DataError("this is a folder, not a data file", path)
    if not os.path.isfile(path):
        # a pipe would block until a writer comes, /dev/zero never ends: read only files
        raise DataError("not a regular file (a pipe, socket or device); save the data to a "
                        "file first", path)
    return path


def decode(data: bytes, path, first_line: int = 1) -> str:
    """UTF-8 text of `data` (a leading BOM dropped); undecodable bytes name their line.

    `first_line` is the line number `data` starts at (when decoding one line at a time)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = len(BYTE_LINE_END.findall(data, 0, err.start)) + first_line
        bad = data[err.start:err.end].hex(" ")
        raise DataError(f"bytes that are not UTF-8 ({bad}) at byte {err.start}; "
                        "save the file as UTF-8", os.fspath(path), line) from None
    return text[1:] if text.startswith(BOM) else text


def read_text(path) -> str:
    """The whole file as text; DataError when it is missing, a folder, empty, or not UTF-8."""
    path = check_file(path)
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
    path = check_file(path)
    number = 0
    try:
        with open(path, "rb") as handle:
            for raw in handle:                  # split at b"\n"; a lone \r splits further
                parts = LINE_END.split(decode(raw, path, number + 1))
                for text in parts[:-1] if len(parts) > 1 and not parts[-1] else parts:
                    number += 1
                    if text.strip():
                        return number, text
    except OSError as err:
        raise DataError(f"cannot read the file: {err.strerror}", path) from None
    raise DataError("the file is empty", path, 1)




def split_lines(text: str):
    """Yield (1-based line number, line) for every line, without its line end.

    '\\n', '\\r\\n' and a lone '\\r' (old Mac files, or a file mixing them) each end a line,
    as Python's universal newlines and the csv module have it; other Unicode separators may
    legally sit inside a text field."""
    for number, line in enumerate(LINE_END.split(text), start=1):
        yield number, line

"""A source file's text (line ends normalised to `\\n`, a leading UTF-8 byte-order mark dropped)
and offset -> line:column mapping; reading files as UTF-8 with the first bad byte located."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic

BOM = "\ufeff"


def normalise(text: str) -> str:
    """`\\r\\n` and `\\r` become `\\n`; a byte-order mark that starts the text is dropped (so
    columns count from the first real character)."""
    return text.removeprefix(BOM).replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class Source:
    path: str            # as given by the user (shown in diagnostics)
    text: str
    _starts: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        self.text = normalise(self.text)
        self._starts = [0] + [i + 1 for i, ch in enumerate(self.text) if ch == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count characters."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def line_start(self, line: int) -> int:
        """The offset of the first character of a 1-based line."""
        return self._starts[max(0, min(line, len(self._starts)) - 1)]

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def span(self, start: int, end: int) -> "Span":
        from .ast import Span
        line, col = self.position(start)
        end_line, end_col = self.position(max(start, end))
        return Span(self.path, start, max(start, end), line, col, end_line, end_col)


class NotUtf8(ValueError):
    """A file that is not UTF-8 text: `source` holds it decoded with U+FFFD for the bad bytes
    (so its lines can be quoted), `offset` is where the first bad byte sits in that text."""

    def __init__(self, source: Source, offset: int, byte: int):
        super().__init__(f"{source.path}: not UTF-8 text")
        self.source, self.offset, self.byte = source, offset, byte

    def diagnostic(self) -> Diagnostic:
        return Diagnostic.at(self.source.span(self.offset, self.offset + 1), "encoding",
                             f"this file is not UTF-8 text: byte 0x{self.byte:02x} cannot be "
                             "decoded here", "save the file as UTF-8")


_cache: dict[str, Source] = {}


def read_source(path) -> Source:
    """Read a file as UTF-8 (cached by path, so diagnostics can quote lines later); NotUtf8
    when it is not (its text is cached all the same)."""
    key = str(path)
    data = Path(path).read_bytes()
    try:
        src = Source(key, data.decode("utf-8"))
    except UnicodeDecodeError as err:
        src = Source(key, data.decode("utf-8", errors="replace"))
        _cache[key] = src
        # the bytes before the bad one decode cleanly; normalised as the Source's text is
        raise NotUtf8(src, len(normalise(data[:err.start].decode("utf-8"))),
                      data[err.start]) from None
    _cache[key] = src
    return src


def remember(src: Source) -> Source:
    _cache[src.path] = src
    return src


def cached_source(path: str) -> Source | None:
    src = _cache.get(path)
    if src is None:
        try:
            src = read_source(path)
        except NotUtf8 as err:
            src = err.source
        except OSError:
            return None
    return src

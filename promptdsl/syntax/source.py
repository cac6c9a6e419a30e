"""A source file's text (line ends normalised to `\\n`) and offset -> line:column mapping."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class Source:
    path: str            # as given by the user (shown in diagnostics)
    text: str
    _starts: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        self.text = normalise_newlines(self.text)
        self._starts = [0] + [i + 1 for i, ch in enumerate(self.text) if ch == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count characters."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

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


_cache: dict[str, Source] = {}


def read_source(path) -> Source:
    """Read a file as UTF-8 (cached by path, so diagnostics can quote lines later)."""
    key = str(path)
    text = Path(path).read_text(encoding="utf-8")
    src = Source(key, text)
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
        except (OSError, UnicodeDecodeError):
            return None
    return src

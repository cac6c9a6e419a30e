"""Writes a run's tables into benchmarks/NOTES.md between markers of its own (one pair per
device and size), leaving every other section of the notes as it is."""
from __future__ import annotations

from pathlib import Path

NOTES = Path(__file__).resolve().parent / "NOTES.md"


def markers(key: str) -> tuple:
    return f"<!-- benchmarks:{key}:begin -->", f"<!-- benchmarks:{key}:end -->"


def write_section(text: str, key: str, path: Path = NOTES) -> Path:
    """Replace the section `key` (or append it) with `text`."""
    begin, end = markers(key)
    block = f"{begin}\n{text.rstrip()}\n{end}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block + "\n"
    path.write_text(new, encoding="utf-8")
    return path

"""Go to definition: `import "file"` → the file; `extends NAME` → the parent's name."""
from __future__ import annotations

import os

from ..syntax import ast
from ..syntax.parse import parse_text


def _inside(span, line: int, column: int) -> bool:
    return span.line - 1 <= line <= span.end_line - 1 and \
        (span.line - 1 < line or span.column - 1 <= column) and \
        (span.end_line - 1 > line or column <= span.end_column - 1)


def _read(path: str, texts: dict) -> str | None:
    if path in texts:
        return texts[path]
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _find_task(path: str, name: str, texts: dict, seen: set):
    """(path, span) of task `name` in `path` or in what it imports."""
    if path in seen or (text := _read(path, texts)) is None:
        return None
    seen.add(path)
    items = parse_text(text, path).file.items
    for item in items:
        if isinstance(item, (ast.Task, ast.Sweep)) and item.name == name:
            return path, item.name_span
    for item in items:
        if isinstance(item, ast.Import):
            found = _find_task(os.path.join(os.path.dirname(path), item.path.value), name,
                               texts, seen)
            if found:
                return found
    return None


def find_definition(text: str, path: str, line: int, column: int, texts: dict):
    """(path, line, column, end column), 0-based, or None."""
    for item in parse_text(text, path).file.items:
        if isinstance(item, ast.Import) and _inside(item.span, line, column):
            return os.path.join(os.path.dirname(path), item.path.value), 0, 0, 0
        if isinstance(item, ast.Task) and item.extends_span and \
                _inside(item.extends_span, line, column):
            found = _find_task(path, item.extends, texts, set())
            if found:
                span = found[1]
                return found[0], span.line - 1, span.column - 1, span.end_column - 1
    return None

"""Go to definition: `import "file"` → the file; `extends NAME` → the parent's name. Imports
and the names they bring into scope are resolved by the front end's own `Workspace`, with the
editor's unsaved buffers."""
from __future__ import annotations

import os
from pathlib import Path

from ..ir.resolve import Workspace
from ..syntax import ast


def _inside(span, line: int, column: int) -> bool:
    """Whether 0-based (line, column) falls in a span (1-based, end column exclusive)."""
    return span.line - 1 <= line <= span.end_line - 1 and \
        (span.line - 1 < line or span.column - 1 <= column) and \
        (span.end_line - 1 > line or column <= span.end_column - 1)


def find_definition(text: str, path: str, line: int, column: int, texts: dict):
    """(path, line, column, end column), 0-based, or None."""
    unit = Workspace({**texts, path: text}).load(path)
    for item in unit.parsed.file.items:
        if isinstance(item, ast.Import) and _inside(item.span, line, column):
            return os.path.abspath(Path(unit.path).parent / item.path.value), 0, 0, 0
        if isinstance(item, ast.Task) and item.extends_span and \
                _inside(item.extends_span, line, column):
            found = unit.scope.get(item.extends)
            if found:
                task, owner = found
                span = task.name_span
                return owner.path, span.line - 1, span.column - 1, span.end_column - 1
    return None

"""`promptc fmt`: the canonical layout of a .prompt file, comments kept.

Two-space indentation, one field or block per line, `key: value` with one space, no separator
commas between fields, value lists as `a, b`, one blank line between top-level items, at most one
blank line inside blocks (kept where the source had one). Literals are printed exactly as written
(strings keep their quotes and escapes, numbers their spelling), so formatting never changes
what a file compiles to.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import ast
from .parse import parse_source
from .source import NotUtf8, Source, read_source, remember

INDENT = "  "


@dataclass
class FormatResult:
    text: str | None
    changed: bool = False
    diagnostics: list = field(default_factory=list)


def format_text(text: str, path: str = "<text>") -> FormatResult:
    src = remember(Source(path, text))
    parsed = parse_source(src)
    errors = [d for d in parsed.diagnostics if d.is_error]
    if errors:
        return FormatResult(None, False, errors)
    out = _Printer(src, parsed.file).print()
    return FormatResult(out, out != src.text)


def format_file(path, write: bool = True) -> FormatResult:
    try:
        text = read_source(path).text
    except NotUtf8 as err:
        return FormatResult(None, False, [err.diagnostic()])
    except OSError as exc:
        from ..diagnostics import Diagnostic
        return FormatResult(None, False, [Diagnostic(str(path), 0, 0, 0, 0, "error", "io",
                                                     f"cannot read the file: {exc}")])
    result = format_text(text, str(path))
    if result.changed and write:
        Path(path).write_text(result.text, encoding="utf-8")
    return result


def render_value(value) -> str:
    if isinstance(value, ast.Str) or isinstance(value, ast.Num):
        return value.raw
    if isinstance(value, ast.Bool):
        return "true" if value.value else "false"
    if isinstance(value, ast.Ident):
        return value.value
    if isinstance(value, ast.Null):
        return "null"
    if isinstance(value, ast.Tagged):
        return f"{value.tag} {render_value(value.value)}"
    inner = ", ".join(render_value(v) for v in value.items)
    return inner if value.implicit else f"[{inner}]"


class _Printer:
    def __init__(self, src: Source, file: ast.File):
        self.src, self.file = src, file
        self.lines: list[str] = []
        self.comments = sorted(file.comments, key=lambda c: c.span.start)
        self.next_comment = 0
        self.last_line = 0            # source line of the last thing printed

    def print(self) -> str:
        for index, item in enumerate(self.file.items):
            self.flush_trailing()
            if index and self.lines and self.lines[-1] != "":
                self.lines.append("")
            self.flush(item.span.start, 0, top=True)
            getattr(self, type(item).__name__.lower())(item)
        self.flush(len(self.src.text) + 1, 0)
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n" if self.lines else ""

    # comments and blank lines -----------------------------------------------------------
    def flush(self, before: int, depth: int, top: bool = False) -> None:
        while self.next_comment < len(self.comments):
            comment = self.comments[self.next_comment]
            if comment.span.start >= before:
                break
            self.next_comment += 1
            text = comment.text.rstrip()
            if self.lines and comment.span.line == self.last_line and self.lines[-1].strip():
                self.lines[-1] += "  " + text
                continue
            self.blank_before(comment.span.line, top)
            self.lines.append(INDENT * depth + text)
            self.last_line = comment.span.line

    def flush_trailing(self) -> None:
        """A comment on the line last printed stays at its end."""
        if self.next_comment < len(self.comments):
            comment = self.comments[self.next_comment]
            if comment.span.line == self.last_line:
                self.flush(comment.span.end, 0)

    def blank_before(self, line: int, top: bool = False) -> None:
        """Keep one blank line where the source had one (never right after `{`)."""
        if line <= self.last_line or not self.lines or self.lines[-1] == "" or self.lines[-1].endswith("{"):
            return
        if line > 1 and not self.src.line_text(line - 1).strip():
            self.lines.append("")

    def emit(self, depth: int, text: str, node_span) -> None:
        self.blank_before(node_span.line)
        self.lines.append(INDENT * depth + text)
        self.last_line = node_span.end_line

    # nodes ------------------------------------------------------------------------------
    def import_(self, item: ast.Import) -> None:
        self.emit(0, f"import {item.path.raw}", item.span)

    def task(self, item: ast.Task) -> None:
        head = f"task {item.name}" + (f" extends {item.extends}" if item.extends else "")
        self.braced(0, head, item.body, item.span, item.close_span)

    def sweep(self, item: ast.Sweep) -> None:
        self.braced(0, f"sweep {item.name}", item.body, item.span, item.close_span)

    def braced(self, depth: int, head: str, body: list, span, close_span) -> None:
        close = close_span.start if close_span else span.end
        has_comment = any(span.start < c.span.start < close for c in self.comments)
        if not body and not has_comment:
            self.emit(depth, head + " { }", span)
            self.last_line = span.end_line
            return
        self.blank_before(span.line)
        self.lines.append(INDENT * depth + head + " {")
        self.last_line = span.line
        for entry in body:
            self.flush(entry.span.start, depth + 1)
            if isinstance(entry, ast.Field):
                self.emit(depth + 1, f"{entry.key_raw}: {render_value(entry.value)}", entry.span)
            else:
                head_text = entry.name + (f" {entry.kind}" if entry.kind else "")
                self.braced(depth + 1, head_text, entry.body, entry.span, entry.close_span)
        self.flush(close, depth + 1)
        self.lines.append(INDENT * depth + "}")
        self.last_line = close_span.line if close_span else span.end_line


_Printer.import_stmt = _Printer.import_
setattr(_Printer, "import", _Printer.import_)

"""Files, imports and `extends`: which tasks a file sees, and each task's merged body.

Imports are followed relative to the importing file; the tasks and sweeps of imported files
(transitively) come into scope for `extends`. `extends` merges bodies block by block (see
`merge_body`). Cycles in either are diagnostics, never recursion errors.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic, suggestion_hint
from ..syntax import ast
from ..syntax.parse import ParseResult, parse_path, parse_text
from ..syntax.source import Source, remember


@dataclass
class Unit:
    """One parsed file and the names it can see."""
    path: str                        # absolute
    shown: str                       # as the user named it (for diagnostics)
    parsed: ParseResult
    tasks: dict = field(default_factory=dict)      # own tasks: name -> ast.Task
    sweeps: dict = field(default_factory=dict)     # own sweeps: name -> ast.Sweep
    scope: dict = field(default_factory=dict)      # visible tasks: name -> (ast.Task, Unit)


class Workspace:
    """Loads files once each, resolves imports and extends, and collects diagnostics."""

    def __init__(self, texts: dict | None = None):
        # unsaved editor buffers: absolute path -> text, read instead of the file on disk
        self.texts = {os.path.abspath(k): v for k, v in (texts or {}).items()}
        self.units: dict[str, Unit] = {}
        self.diagnostics: list[Diagnostic] = []
        self._bodies: dict[int, list] = {}
        self.broken: set[int] = set()     # tasks whose parent is missing: not built (no cascade)

    # ---- files and imports -------------------------------------------------------------
    def load(self, path, shown: str | None = None, _stack: tuple = ()) -> Unit:
        key = os.path.abspath(path)
        if key in self.units:
            return self.units[key]
        text = self.texts.get(key)
        parsed = _parse_or_report(shown or str(path)) if text is None else \
            parse_text(text, shown or str(path))
        unit = Unit(key, parsed.source.path, parsed)
        self.units[key] = unit
        self.diagnostics.extend(parsed.diagnostics)
        self._own_names(unit)
        for item in parsed.file.items:
            if isinstance(item, ast.Import):
                self._import(unit, item, _stack + (key,))
        return unit

    def _own_names(self, unit: Unit) -> None:
        seen_task = False
        for item in unit.parsed.file.items:
            if isinstance(item, ast.Import):
                if seen_task:
                    self._error(item.span, "import-order", "`import` must come before any task",
                                "move the import to the top of the file")
                continue
            seen_task = True
            table = unit.tasks if isinstance(item, ast.Task) else unit.sweeps
            what = "task" if isinstance(item, ast.Task) else "sweep"
            if item.name in table:
                first = table[item.name].name_span
                self._error(item.name_span, "duplicate-name",
                            f"{what} `{item.name}` is defined twice",
                            f"the first definition is at line {first.line}:{first.column}")
                continue
            table[item.name] = item
            if isinstance(item, ast.Task):
                unit.scope[item.name] = (item, unit)

    def _import(self, unit: Unit, item: ast.Import, stack: tuple) -> None:
        target = Path(unit.path).parent / item.path.value
        key = os.path.abspath(target)
        if key in stack:
            chain = " → ".join(Path(p).name for p in stack[stack.index(key):] + (key,))
            self._error(item.path.span, "import-cycle", f"import cycle: {chain}",
                        "a file cannot import itself, directly or through others")
            return
        if key not in self.texts and not os.path.isfile(target):  # never raises (Path.is_file may)
            self._error(item.path.span, "missing-file", f"imported file `{item.path.value}` "
                        f"does not exist", f"paths are relative to {Path(unit.shown).parent}/")
            return
        shown = os.path.join(os.path.dirname(unit.shown), item.path.value)
        other = self.load(target, os.path.normpath(shown), stack)
        for name, (task, owner) in other.scope.items():
            mine = unit.scope.get(name)
            if mine is None:
                unit.scope[name] = (task, owner)
            elif mine[0] is not task:
                where = f"{owner.shown}:{task.name_span.line}"
                self._error(item.path.span if mine[1] is not unit else mine[0].name_span,
                            "duplicate-name",
                            f"task `{name}` is defined here and in {where}",
                            "task names must be unique across a file and its imports")

    # ---- extends -----------------------------------------------------------------------
    def body_of(self, task: ast.Task, unit: Unit, _chain: tuple = ()) -> list:
        """The task's body with its parents merged in (cached)."""
        if id(task) in self._bodies:
            return self._bodies[id(task)]
        own = self.checked_body(task.body, "task")
        body = own
        if task.extends:
            found = unit.scope.get(task.extends)
            if task.name in _chain:
                cycle = " → ".join(_chain[_chain.index(task.name):] + (task.name,))
                self._error(task.extends_span, "extends-cycle", f"`extends` cycle: {cycle}",
                            "a task cannot extend itself, directly or through others")
                self.broken.add(id(task))
            elif found is None:
                self.broken.add(id(task))
                self._error(task.extends_span, "unknown-task",
                            f"task `{task.name}` extends `{task.extends}`, which is not defined",
                            suggestion_hint(task.extends, unit.scope, "tasks in scope")
                            or "define it in this file or import the file that defines it")
            else:
                parent, owner = found
                body = merge_body(self.body_of(parent, owner, _chain + (task.name,)), own)
                if id(parent) in self.broken:
                    self.broken.add(id(task))
        self._bodies[id(task)] = body
        return body

    def checked_body(self, body: list, where: str) -> list:
        """Report fields and blocks given twice in one body; the later one wins."""
        seen: dict = {}
        out = []
        for entry in body:
            key = _identity(entry)
            if key in seen:
                first = seen[key]
                what = "field" if isinstance(entry, ast.Field) else "block"
                name = entry.key if isinstance(entry, ast.Field) else entry.name
                span = entry.key_span if isinstance(entry, ast.Field) else entry.name_span
                self._error(span, "duplicate-field", f"{what} `{name}` is given twice in this "
                            f"{where}", f"the first is at line {first.line}:{first.column}; "
                            "remove one")
                out = [e for e in out if _identity(e) != key]
            else:
                seen[key] = (entry.key_span if isinstance(entry, ast.Field) else entry.name_span)
            if isinstance(entry, ast.Block):
                entry = ast.Block(entry.name, entry.name_span, entry.kind, entry.kind_span,
                                  self.checked_body(entry.body, f"block `{entry.name}`"),
                                  entry.span, entry.close_span)
            out.append(entry)
        return out

    def _error(self, span, code, message, hint=None):
        self.diagnostics.append(Diagnostic.at(span, code, message, hint))


def _parse_or_report(path: str) -> ParseResult:
    """Parse a file; an unreadable one (no permission, a folder) becomes one diagnostic (one
    that is not UTF-8 is located at its bad byte by the parser)."""
    try:
        return parse_path(path)
    except OSError as exc:
        src = remember(Source(path, ""))
        diag = Diagnostic.at(src.span(0, 0), "io", f"cannot read `{path}`: {exc.strerror}")
        return ParseResult(ast.File(path, []), [diag], src)


def _identity(entry) -> tuple:
    if isinstance(entry, ast.Field):
        return ("field", entry.key)
    if entry.name == "method":               # several methods compose; one of each name
        return ("block", entry.name, entry.kind)
    return ("block", entry.name)


# a child's field replaces these blocks of the parent, and the other way round
EXCLUSIVE = {("field", "template"): ("block", "templates"),
             ("block", "templates"): ("field", "template")}


def merge_body(parent: list, child: list) -> list:
    """`extends`: blocks of one name and kind merge field by field; a child's `method` blocks
    replace the parent's list; a block of another kind (a verbalizer) replaces the parent's;
    fields replace fields."""
    out = list(parent)
    if any(isinstance(e, ast.Block) and e.name == "method" for e in child):
        out = [e for e in out if not (isinstance(e, ast.Block) and e.name == "method")]
    for entry in child:
        ident = _identity(entry)
        clash = EXCLUSIVE.get(ident[:2])
        if clash:
            out = [e for e in out if _identity(e)[:2] != clash]
        match = next((i for i, e in enumerate(out) if _identity(e) == ident), None)
        if match is None:
            out.append(entry)
            continue
        old = out[match]
        if (isinstance(entry, ast.Block) and isinstance(old, ast.Block)
                and entry.kind == old.kind and entry.name != "method"):
            entry = ast.Block(entry.name, entry.name_span, entry.kind, entry.kind_span,
                              merge_body(old.body, entry.body), entry.span, entry.close_span)
        out[match] = entry
    return out

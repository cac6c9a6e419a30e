"""The front end end to end: file -> parsed units -> merged bodies -> IR + every diagnostic."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, dedupe, suggestion_hint
from ..errors import PromptdslError
from ..registry import get_registry
from .build import TaskBuilder
from .checks import semantic_checks
from .data_checks import Tables
from .overrides import apply_overrides
from .resolve import Workspace
from .sweep import sweep_grid


@dataclass
class Analysis:
    diagnostics: list = field(default_factory=list)
    tasks: dict = field(default_factory=dict)     # name -> IR, the file's own tasks in order

    @property
    def errors(self) -> list:
        return [d for d in self.diagnostics if d.is_error]


def analyse(path, only_task: str | None = None, overrides: dict | None = None,
            tables: Tables | None = None, texts: dict | None = None) -> Analysis:
    """Parse, resolve and check `path`; IRs for its own tasks (or only `only_task`).
    `tables`: data files already read (share one across the files of one check); `texts`:
    {path: text} read instead of those files (an editor's unsaved buffers)."""
    ws = Workspace(texts)
    tables = tables if tables is not None else Tables()
    unit = ws.load(path, str(path))
    result = Analysis()
    try:
        registry = get_registry()
    except PromptdslError as exc:        # a broken plugin is reported, not raised
        result.diagnostics = dedupe(ws.diagnostics + [Diagnostic(
            str(path), 0, 0, 0, 0, "error", "plugin", str(exc), None)])
        return result
    names = list(unit.tasks)
    if only_task is not None:
        if only_task not in unit.tasks:
            first = next(iter(unit.tasks.values()), None)
            span_file = str(path)
            ws.diagnostics.append(Diagnostic(
                span_file, first.name_span.line if first else 0,
                first.name_span.column if first else 0, first.name_span.end_line if first else 0,
                first.name_span.end_column if first else 0, "error", "unknown-task",
                f"this file has no task `{only_task}`",
                suggestion_hint(only_task, names, "its tasks")))
            names = []
        else:
            names = [only_task]
    sweeps = dict(unit.sweeps)
    for name, sweep in unit.sweeps.items():
        if name not in unit.tasks:
            ws.diagnostics.append(Diagnostic.at(
                sweep.name_span, "unknown-task", f"sweep `{name}` names no task of this file",
                suggestion_hint(name, unit.tasks, "tasks of this file")))
    for name in names:
        task = unit.tasks[name]
        body = ws.body_of(task, unit)
        if overrides:
            body, problems = apply_overrides(body, overrides, task)
            ws.diagnostics.extend(problems)
        if id(task) in ws.broken:
            continue
        try:
            result.tasks[name] = _build(task, unit, body, sweeps.get(name), registry,
                                        ws.diagnostics, tables)
        except Exception as exc:  # a bug or a plugin's crash: say so at the task, no traceback
            ws.diagnostics.append(Diagnostic.at(
                task.name_span, "internal", f"internal error while checking task `{name}`: "
                f"{type(exc).__name__}: {exc}", "please report this with the file"))
    # tasks only extended from, or shown in imported files, are checked through their children
    result.diagnostics = dedupe(ws.diagnostics)
    return result


def _build(task, unit, body, sweep, registry, diagnostics: list, tables: Tables) -> dict:
    builder = TaskBuilder(task, unit.path, body, registry)
    built = builder.build()
    diagnostics.extend(builder.diagnostics)
    diagnostics.extend(semantic_checks(built, registry, tables))
    if sweep is not None:
        grid, problems = sweep_grid(sweep, built.ir, registry, built=built, tables=tables)
        diagnostics.extend(problems)
        built.ir["sweep"] = grid or None
    return built.ir


def task_names(path) -> list:
    """The names of the file's own tasks (parsing only)."""
    return list(Workspace().load(path, str(path)).tasks)

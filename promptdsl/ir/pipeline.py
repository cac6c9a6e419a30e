"""The front end end to end: file -> parsed units -> merged bodies -> IR + every diagnostic."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, dedupe, suggestion_hint
from ..errors import PromptdslError
from ..registry import get_registry
from .build import Built, TaskBuilder
from .checks import semantic_checks
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


def analyse(path, only_task: str | None = None, overrides: dict | None = None) -> Analysis:
    """Parse, resolve and check `path`; IRs for its own tasks (or only `only_task`)."""
    ws = Workspace()
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
        builder = TaskBuilder(task, unit.path, body, registry)
        built = builder.build()
        ws.diagnostics.extend(builder.diagnostics)
        ws.diagnostics.extend(_checks(built, registry))
        if name in sweeps:
            grid, problems = sweep_grid(sweeps[name], built.ir, registry)
            ws.diagnostics.extend(problems)
            built.ir["sweep"] = grid or None
        result.tasks[name] = built.ir
    # tasks only extended from, or shown in imported files, are checked through their children
    result.diagnostics = dedupe(ws.diagnostics)
    return result


def _checks(built: Built, registry) -> list:
    return semantic_checks(built, registry)

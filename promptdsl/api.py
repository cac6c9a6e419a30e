"""The front end's public API: load a task, check files, compile to JSON."""
from __future__ import annotations

import json
import os

from .diagnostics import Diagnostic, dedupe
from .errors import TaskError
from .ir.pipeline import analyse, task_names


def _analyse_file(path, task=None, overrides=None):
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    return analyse(path, only_task=task, overrides=overrides)


def load_all(path, overrides: dict | None = None) -> dict:
    """{name: IR} for every task of the file itself (imported tasks are not run)."""
    result = _analyse_file(path, overrides=overrides)
    if result.errors:
        raise TaskError(result.diagnostics)
    return result.tasks


def load(path, task: str | None = None, overrides: dict | None = None) -> dict:
    """The IR of one task of `path` (the only one, or the one named `task`).

    `overrides` maps dotted keys to value text as on the command line (`{"train.epochs": "3"}`);
    values parse as in the language and the task is checked again with them. Raises `TaskError`
    (with `.diagnostics`) when the file has errors, FileNotFoundError when it does not exist."""
    if task is None:
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        tasks = task_names(path)
        if len(tasks) != 1:
            names = ", ".join(tasks) or "none"
            raise TaskError([Diagnostic(str(path), 0, 0, 0, 0, "error", "choose-task",
                                        f"this file has {len(tasks)} tasks ({names})",
                                        "name one with --task NAME")])
        task = tasks[0]
    result = _analyse_file(path, task=task, overrides=overrides)
    if result.errors:
        raise TaskError(result.diagnostics)
    return result.tasks[task]


def check_files(paths, texts: dict | None = None, tables=None) -> tuple[list[Diagnostic], dict]:
    """(every diagnostic for the given files, sorted by place, each once; {path: {task name:
    IR}} of the tasks that built). Each file is analysed once, each data file read once.
    `texts`: {path: text} used instead of what is on disk (unsaved editor buffers); `tables`:
    a `Tables` of data files already read, kept across calls by a long-lived caller."""
    from .ir.data_checks import Tables
    texts = {os.path.abspath(k): v for k, v in (texts or {}).items()}
    out, tasks, tables = [], {}, tables if tables is not None else Tables()
    for path in paths:
        if os.path.abspath(path) not in texts and not os.path.isfile(path):
            out.append(Diagnostic(str(path), 0, 0, 0, 0, "error", "io",
                                  "no such file", None))
            continue
        result = analyse(path, tables=tables, texts=texts)
        out.extend(result.diagnostics)
        tasks[path] = result.tasks
    return dedupe(out), tasks


def check(paths) -> list[Diagnostic]:
    """Every diagnostic for the given files (sorted by place, each once)."""
    return check_files(paths)[0]


def to_json(ir: dict) -> str:
    """Byte-stable JSON: keys in the IR's fixed order, floats as Python's shortest repr."""
    return json.dumps(ir, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def compile_file(path, task: str | None = None, overrides: dict | None = None) -> str:
    return to_json(load(path, task=task, overrides=overrides))

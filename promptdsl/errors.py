"""Errors the CLI turns into clean messages (never a traceback).

`PromptdslError` subclasses carry enough to say where and what. The CLI maps them to exit codes:
diagnostics in a `.prompt` file -> 1, bad data / IO / usage / plugins -> 2.
"""
from __future__ import annotations


class PromptdslError(Exception):
    """Base class: `str(err)` is the message shown to the user."""
    exit_code = 2


class PluginError(PromptdslError):
    """A plugin failed to load, or two plugins claim one name."""


class DataError(PromptdslError):
    """Bad data: names the file and, when known, the 1-based line."""

    def __init__(self, message: str, file=None, line: int | None = None):
        self.file, self.line, self.detail = file, line, message
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")


class ModelError(PromptdslError):
    """A model cannot be resolved or loaded, or does not fit the task (e.g. mask placement)."""


class TaskError(PromptdslError):
    """The `.prompt` file has errors; `diagnostics` holds them (see promptdsl.diagnostics).
    Exit 1, or 2 when every error is about its data or plugins, not the file itself."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(str(first) if first else "the task has errors")

    @property
    def exit_code(self) -> int:
        from .diagnostics import exit_code
        return exit_code(self.diagnostics) or 1

"""Located diagnostics and their rustc-style rendering.

    error[unknown-field]: unknown field `learnig_rate` in block `train`
     --> typo_field.prompt:9:5
      |
    9 |     learnig_rate: 1e-3
      |     ^^^^^^^^^^^^
      = help: did you mean `learning_rate`?
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Iterable, Optional

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str
    code: str
    message: str
    hint: Optional[str] = None

    @classmethod
    def at(cls, span, code: str, message: str, hint: str | None = None,
           severity: str = ERROR) -> "Diagnostic":
        """A diagnostic covering `span` (anything with file/line/column/end_line/end_column)."""
        return cls(span.file, span.line, span.column, span.end_line, span.end_column,
                   severity, code, message, hint)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_json(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelt word, or None."""
    choices = [c for c in choices if isinstance(c, str)]
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    return close[0] if close else None


def suggestion_hint(word: str, choices: Iterable[str], what: str = "") -> str | None:
    """`did you mean `x`?` plus, when `what` is given, the list of valid names."""
    choices = sorted(set(choices))
    best = did_you_mean(word, choices)
    parts = []
    if best:
        parts.append(f"did you mean `{best}`?")
    if what:
        listed = ", ".join(choices) if choices else "none"
        parts.append(f"{what}: {listed}")
    return " ".join(parts) or None


def sort_key(d: Diagnostic):
    return (d.file, d.line, d.column, d.severity != ERROR, d.code, d.message)


def dedupe(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by place, each diagnostic once (an inherited error shows up once)."""
    return sorted(set(diagnostics), key=sort_key)


def render(diag: Diagnostic, source_text: str | None = None) -> str:
    """One diagnostic as text: header, location, the offending line with carets, help."""
    from .syntax.source import cached_source

    head = f"{diag.severity}[{diag.code}]: {diag.message}"
    if diag.line < 1:
        lines = [head, f" --> {diag.file}"]
        if diag.hint:
            lines.append(f"  = help: {diag.hint}")
        return "\n".join(lines)
    if source_text is None:
        src = cached_source(diag.file)
        text = src.line_text(diag.line) if src else ""
    else:
        all_lines = source_text.split("\n")
        text = all_lines[diag.line - 1] if diag.line <= len(all_lines) else ""
    gutter = " " * len(str(diag.line))
    if diag.end_line == diag.line and diag.end_column > diag.column:
        width = diag.end_column - diag.column
    else:
        width = max(1, len(text) - diag.column + 1) if diag.end_line > diag.line else 1
    caret = " " * (diag.column - 1) + "^" * max(1, width)
    shown = text.replace("\t", " ")   # a tab is one column
    lines = [head, f"{gutter}--> {diag.file}:{diag.line}:{diag.column}", f"{gutter} |",
             f"{diag.line} | {shown}", f"{gutter} | {caret}"]
    if diag.hint:
        lines.append(f"{gutter} = help: {diag.hint}")
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    """All diagnostics, then a one-line count; empty text when there are none."""
    diagnostics = list(diagnostics)
    if not diagnostics:
        return ""
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    return "\n\n".join(render(d) for d in diagnostics) + "\n\n" + summary


# errors that are not mistakes of the .prompt file itself: its data files or its model cannot
# be used as they are, a plugin cannot be loaded, a file cannot be read. Like the runtime's own
# DataError and ModelError, they exit 2; an error of the file exits 1.
NOT_THE_FILE = frozenset({"bad-data", "bad-model", "plugin", "io"})


def exit_code(diagnostics: Iterable[Diagnostic]) -> int:
    """0 without errors; 2 when every error is one of NOT_THE_FILE; else 1."""
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        return 0
    return 2 if all(d.code in NOT_THE_FILE for d in errors) else 1

"""One error style for every `promptc` command (the group runs each inside `clean_errors`).

Exit codes: 0 success; 1 the `.prompt` file has errors (located diagnostics, as `check` prints
them); 2 anything else that stops a command — usage, a missing or unreadable file, bad data, a
model or plugin that cannot be loaded, a failed run — and an unexpected exception (a bug: one
line `internal error: …`, with the traceback only under PROMPTDSL_DEBUG=1); 130 interrupted.
Never a traceback otherwise.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import click

from ..diagnostics import render_all
from ..errors import PromptdslError, TaskError

DEBUG_ENV = "PROMPTDSL_DEBUG"
INTERNAL_EXIT = 2


def _fail(message: str, code: int):
    click.echo(message, err=True)
    sys.exit(code)


def _os_message(exc: OSError) -> str:
    if exc.filename is None and isinstance(exc, FileNotFoundError):
        return f"{exc}: no such file"
    return f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)


@contextmanager
def clean_errors():
    """Every error becomes one clean message on stderr and its exit code, never a traceback."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise                          # click prints these itself (usage errors exit 2)
    except TaskError as exc:           # the same located report as `promptc check`
        _fail(render_all(exc.diagnostics) if exc.diagnostics else f"error: {exc}",
              exc.exit_code)
    except PromptdslError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except OSError as exc:
        _fail(f"error: {_os_message(exc)}", 2)
    except KeyboardInterrupt:
        _fail("interrupted (what was written to the run directory is kept)", 130)
    except Exception as exc:           # a bug: one line; the traceback under PROMPTDSL_DEBUG=1
        if os.environ.get(DEBUG_ENV):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (please report it; "
              f"{DEBUG_ENV}=1 shows the traceback)", INTERNAL_EXIT)


def parse_sets(values) -> dict:
    """`--set key=value` options -> {key: value text} (a usage error otherwise)."""
    overrides = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        overrides[key.strip()] = value
    return overrides


def missing_files(paths) -> None:
    """A usage error (exit 2) naming the paths that are not files."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise click.UsageError(f"no such file: {', '.join(missing)}")

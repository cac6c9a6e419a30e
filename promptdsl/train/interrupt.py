"""SIGTERM and Ctrl-C during a run: the first one asks the training loop to save a resumable
state at the next step and stop; a second one stops at once. Outside training the run stops at
its next phase boundary (`check()`)."""
from __future__ import annotations

import contextlib
import signal

from ..errors import PromptdslError

_requested: list[int] = []


class Interrupted(PromptdslError):
    """The run was stopped by a signal; the message says how to resume."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.exit_code = 128 + int(signum)


def requested() -> int | None:
    """The signal number asked for, or None."""
    return _requested[0] if _requested else None


def request(signum: int = signal.SIGTERM) -> None:
    """Ask for a stop as a signal would (another rank got one)."""
    if not _requested:
        _requested.append(int(signum))


def name(signum: int) -> str:
    return signal.Signals(signum).name


def clear() -> None:
    _requested.clear()


def check(where: str = "") -> None:
    """Raise Interrupted if a signal came (between the phases of a run)."""
    signum = requested()
    if signum is not None:
        raise Interrupted(f"interrupted by {name(signum)}{where}", signum)


def resume_command(task: dict, run) -> str:
    """What to run to continue: the same file (and --task/--set values) with --resume."""
    import shlex
    return (f"resume with `promptc train {shlex.quote(str(task['file']))} --resume "
            f"{shlex.quote(str(run))}` (with the same --task and --set values)")


def _handler(signum, frame):
    if _requested:          # the second signal: stop now
        raise Interrupted(f"interrupted again by {name(signum)}; stopped at "
                          "once", signum)
    _requested.append(signum)


@contextlib.contextmanager
def catching_signals():
    """Install the handlers for SIGINT and SIGTERM (main thread only) for the duration."""
    clear()
    installed = {}
    with contextlib.suppress(ValueError):       # not the main thread: leave signals alone
        for signum in (signal.SIGINT, signal.SIGTERM):
            installed[signum] = signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, previous in installed.items():
            signal.signal(signum, previous)
        clear()

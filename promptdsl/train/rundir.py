"""The run directory: what one `promptc train` leaves behind.

    <run>/task.json        the compiled task IR
    <run>/metrics.jsonl    one JSON line per evaluation, flushed as it is written
    <run>/summary.json     final metrics, wall time, throughput, parameter counts, device
    <run>/predictions.tsv  one row per evaluated example
    <run>/checkpoint/      trainable tensors (safetensors) + what rebuilds the graph

A run directory is never overwritten: an existing non-empty folder is an error, so a finished
run cannot be lost to a typo in `--out`. While a process writes a run it holds `<run>/.lock`;
`<run>/state/` holds the resumable training state (promptdsl.train.state) until the run ends.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from pathlib import Path

from ..errors import PromptdslError


class RunDirError(PromptdslError):
    """The run directory cannot be used (exists and is not empty, or cannot be written)."""


def default_run_dir(task_name: str, root: str | os.PathLike = "runs") -> Path:
    """`runs/<task>-<YYYYmmdd-HHMMSS>`, with a numeric suffix if that name is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", task_name) or "task"
    base = Path(root) / f"{safe}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _json_default(value):
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value, indent=None) -> str:
    """JSON with NaN/inf written as null (JSON has no such numbers)."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(value), indent=indent, default=_json_default, ensure_ascii=False)


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock = None

    @classmethod
    def create(cls, path: str | os.PathLike) -> "RunDir":
        """A new run directory (missing or empty), locked by this process."""
        path = Path(path)
        check_free(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"{path}: cannot create the run directory: {exc.strerror}") from exc
        run = cls(path)
        run.lock = RunLock.acquire(path)
        try:
            check_free(path)        # another process filled it between our check and the lock
        except RunDirError:
            run.close()
            raise
        return run

    @classmethod
    def reopen(cls, path: str | os.PathLike) -> "RunDir":
        """An existing run directory, to resume writing it; locked by this process."""
        path = Path(path)
        if not path.is_dir():
            raise RunDirError(f"{path}: no such run directory to resume")
        run = cls(path)
        run.lock = RunLock.acquire(path)
        return run

    def close(self) -> None:
        """Release the lock (a process that dies releases it too)."""
        lock = getattr(self, "lock", None)
        if lock is not None:
            lock.release()
            self.lock = None

    def truncate_metrics(self, size: int) -> None:
        """Cut metrics.jsonl back to `size` bytes (a resumed run writes the rest again)."""
        path = self.path / "metrics.jsonl"
        if path.is_file() and path.stat().st_size > size:
            with open(path, "r+b") as handle:
                handle.truncate(size)
                os.fsync(handle.fileno())

    def metrics_bytes(self) -> int:
        path = self.path / "metrics.jsonl"
        return path.stat().st_size if path.is_file() else 0

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoint"

    def _write_text(self, name: str, text: str) -> Path:
        return write_text(self.path / name, text)

    def write_task(self, task: dict) -> Path:
        return self._write_text("task.json", dumps(task, indent=2) + "\n")

    def append_metrics(self, record: dict) -> None:
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def write_summary(self, summary: dict) -> Path:
        return self.write_json("summary.json", summary)

    def write_json(self, name: str, value) -> Path:
        return self._write_text(name, dumps(value, indent=2) + "\n")

    def write_predictions(self, header: list[str], rows) -> Path:
        return write_tsv(self.path / "predictions.tsv", header, rows)


LOCK = ".lock"


def has_run_files(path) -> bool:
    """Whether `path` is a folder holding anything but a lock file."""
    path = Path(path)
    return path.is_dir() and any(p.name != LOCK for p in path.iterdir())


def check_free(path) -> None:
    """A new run may be written to `path`: it is missing or an empty folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a directory")
    if has_run_files(path):
        raise RunDirError(f"{path}: run directory exists and is not empty; "
                          "choose another --out (nothing was written)")


class RunLock:
    """An exclusive lock on a run directory (`flock` on `<run>/.lock`, which holds the owner's
    pid): one process writes a run at a time; the lock goes when the process ends, even by
    kill -9, so a crashed run can be resumed."""

    def __init__(self, path: Path, handle):
        self.path, self.handle = path, handle

    @classmethod
    def acquire(cls, folder: Path) -> "RunLock":
        try:
            import fcntl
        except ImportError:          # no flock (Windows): runs are not locked there
            return cls(folder / LOCK, None)
        path = folder / LOCK
        try:
            handle = open(path, "a+", encoding="utf-8")
        except OSError as exc:
            raise RunDirError(f"{folder}: cannot lock the run directory: {exc.strerror}") from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise RunDirError(f"{folder}: the run directory is in use by process {owner} "
                              "(it holds the lock); wait for it to end, or choose another "
                              "--out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return cls(path, handle)

    def release(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.handle.close()
            self.handle = None


def _file_mode() -> int:
    """The mode a plain `open(…, "w")` gives under the current umask (safetensors writes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync(path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:          # e.g. directories cannot be opened on some systems
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomically(path, write) -> Path:
    """`write(temporary path)`, fsync, the usual permissions and a rename onto `path`: an
    interrupted write (even a power cut) leaves the previous file or the new one, never half
    a file."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    write(tmp)
    os.chmod(tmp, _file_mode())
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync(target.parent, directory=True)
    return target


def write_text(path, text: str) -> Path:
    return _atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_safetensors(tensors: dict, path, metadata: dict | None = None) -> Path:
    """safetensors, written like every other run file (atomic, the usual permissions)."""
    from safetensors.torch import save_file
    return _atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_cell(value) -> str:
    """One TSV cell: floats in 6 significant digits; backslash, tab, newline and carriage
    return written as the escapes `\\`, `\t`, `\n`, `\r` (docs/cli.md), so every row is
    one line with the header's number of cells, whatever the text."""
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text.translate(_ESCAPES)


def tsv_line(values) -> str:
    return "\t".join(tsv_cell(v) for v in values)


def write_tsv(path: Path, header: list[str], rows) -> Path:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(tsv_line(header) + "\n")
            for row in rows:
                handle.write(tsv_line(row) + "\n")
    return _atomically(path, write)

"""`promptc report`: one self-contained HTML page from run, sweep and multi-task directories.

    build_report(paths) -> str          (read: the files; page: the HTML; plots: the SVG)
    write_report(paths, out) -> Path
"""
from __future__ import annotations

from pathlib import Path

from .read import ReportError, read_target


def build_report(paths) -> str:
    from .page import render
    items = [item for path in paths for item in read_target(path)]
    return render(items)


def write_report(paths, out="report.html") -> Path:
    out = Path(out)
    if out.is_dir():
        raise ReportError(f"{out}: is a directory (give --out a file name)")
    text = build_report(paths)
    from ..train.rundir import write_text
    return write_text(out, text)


__all__ = ["ReportError", "build_report", "write_report"]

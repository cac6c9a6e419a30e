"""`check --params` answers from its last answer when nothing it depends on has changed.

Building a task on the meta device needs torch, transformers and the model class: seconds of
imports before the first number. The report depends only on the task's IR, the model folder's
files, the installed versions of torch / transformers / peft, and the code of promptdsl and of
the loaded plugins; a JSON answer is kept in `cache_dir("params")` under a hash of all of them
(file sizes and modification times, not contents), so asking again costs milliseconds. Any
change to one of them, or a damaged entry, builds the model again."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from .params import ParameterCount, PrefixShare, TaskReport, report

FORMAT = 1
PACKAGES = ("torch", "transformers", "peft", "promptdsl")


def _stats(paths) -> list:
    out = []
    for path in sorted(set(paths)):
        try:
            stat = os.stat(path)
        except OSError:
            continue
        out.append([path, stat.st_size, stat.st_mtime_ns])
    return out


def _code_files() -> list:
    """promptdsl's own modules and every loaded plugin's module file."""
    from ..registry import plugin_manager
    root = Path(__file__).resolve().parents[1]
    files = [str(p) for p in root.rglob("*.py")]
    for plugin in plugin_manager().get_plugins():
        module = sys.modules.get(getattr(plugin, "__module__", "") or "") \
            if not hasattr(plugin, "__file__") else plugin
        path = getattr(module, "__file__", None)
        if path:
            files += [str(p) for p in Path(path).parent.glob("*.py")]
    return files


def _versions() -> list:
    out = []
    for name in PACKAGES:
        try:
            out.append([name, metadata.version(name)])
        except metadata.PackageNotFoundError:
            out.append([name, None])
    return out


def _key(task: dict) -> str:
    from .backbone import resolve_model
    folder = Path(resolve_model(task["model"]))
    model_files = [str(p) for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    ident = [FORMAT, task, _versions(), _stats(model_files), _stats(_code_files())]
    text = json.dumps(ident, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached_report(task: dict) -> TaskReport:
    """`params.report(task)`, or the same answer from an earlier run when nothing changed."""
    from .. import cache_dir
    target = cache_dir("params") / f"{_key(task)}.json"
    try:
        saved = json.loads(target.read_text("utf-8"))
        return TaskReport(ParameterCount(**saved["counts"]), saved["groups"],
                          PrefixShare(**saved["prefix"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = report(task)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_text(json.dumps({"counts": asdict(found.counts), "groups": found.groups,
                                       "prefix": asdict(found.prefix)}, ensure_ascii=False),
                           "utf-8")
        os.replace(partial, target)
    except OSError:
        pass                            # an unwritable cache only costs speed
    return found

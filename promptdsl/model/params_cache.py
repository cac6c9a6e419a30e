"""`check --params` answers from its last answer when nothing it depends on has changed.

Building a task on the meta device needs torch, transformers and the model class: seconds of
imports before the first number. The report depends only on the task's IR, the model folder's
files, the installed versions of torch / transformers / peft, and the code of promptdsl and of
the loaded plugins; a JSON answer is kept in `cache_dir("params")` under a hash of all of them
(the model files' sizes and modification times, the code's bytes), so asking again costs
milliseconds. Any change to one of them, or a damaged entry, builds the model again."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from ..cachefile import source_print, write_cache_json
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


def _code_files() -> tuple:
    """promptdsl's own modules and the module files of every loaded plugin."""
    from ..registry import plugin_manager
    root = Path(__file__).resolve().parents[1]
    files = set(root.rglob("*.py"))
    for plugin in plugin_manager().get_plugins():
        module = plugin if hasattr(plugin, "__file__") else sys.modules.get(
            getattr(plugin, "__module__", None) or "")
        if getattr(module, "__file__", None):
            files.update(Path(module.__file__).parent.glob("*.py"))
    return tuple(sorted(files))


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
    ident = [FORMAT, task, _versions(), _stats(model_files), source_print(_code_files())]
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
    write_cache_json(target, {"counts": asdict(found.counts), "groups": found.groups,
                              "prefix": asdict(found.prefix)})
    return found

"""promptdsl: a declarative language and compiler for prompt learning.

Public API (stable for plugins and users; plugins import nothing else but `promptdsl.errors`,
`promptdsl.options`, `promptdsl.runtime` and the package-level names of `promptdsl.data` and
`promptdsl.model`, see docs/plugins.md):
    hookimpl                      decorator for plugin hook implementations
    MethodSpec, VerbalizerSpec, KnowledgeSourceSpec, DataFormatSpec, ModelSourceSpec, MetricSpec,
    LoggerSpec
    options_schema(properties)    a closed options schema by hand (promptdsl.options derives one)
    get_registry()                what the loaded plugins provide
    register(plugin), unregister(plugin)   add / remove a plugin at run time (tests, notebooks)
    cache_dir(kind)               promptdsl's cache folder for one kind of thing
    load(path, task=None)         .prompt file -> task IR (dict)          [front end]
    compile(task)                 task IR -> PromptModel (torch.nn.Module) [model]
"""
from __future__ import annotations

import os
from pathlib import Path

from .hookspecs import hookimpl
from .registry import get_registry, register, unregister
from .specs import (DataFormatSpec, KnowledgeSourceSpec, LoggerSpec, MethodSpec, MetricSpec,
                    ModelSourceSpec, VerbalizerSpec, options_schema)

__version__ = "0.1.0"


def cache_dir(kind: str) -> Path:
    """The cache folder for `kind` ("models", "tokenized", …): under `$PROMPTDSL_CACHE`, else
    `$XDG_CACHE_HOME/promptdsl`, else `~/.cache/promptdsl`. Not created here."""
    root = os.environ.get("PROMPTDSL_CACHE")
    if root:
        return Path(root).expanduser() / kind
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "promptdsl" / kind


def load(path, task: str | None = None, overrides: dict | None = None):
    """Parse, resolve and check a .prompt file; return the task IR (a plain dict).

    With several tasks in the file, `task` names one; `overrides` maps dotted keys to value text
    (`{"train.epochs": "3"}`). Raises `TaskError` with diagnostics."""
    from .api import load as _load
    return _load(path, task=task, overrides=overrides)


def compile(task, **kwargs):  # noqa: A001 - the verb users expect
    """Build the PromptModel for a task IR (dict from `load`)."""
    from .model.compile import compile_task
    return compile_task(task, **kwargs)


__all__ = ["hookimpl", "get_registry", "register", "unregister", "load", "compile",
           "MethodSpec", "VerbalizerSpec", "KnowledgeSourceSpec", "DataFormatSpec",
           "ModelSourceSpec", "MetricSpec", "LoggerSpec", "options_schema", "cache_dir", "__version__"]

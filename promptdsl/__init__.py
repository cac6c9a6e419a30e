"""promptdsl: a declarative language and compiler for prompt learning.

Public API (stable for plugins and users):
    hookimpl                      decorator for plugin hook implementations
    MethodSpec, VerbalizerSpec, KnowledgeSourceSpec, DataFormatSpec, ModelSourceSpec, MetricSpec
    get_registry()                what the loaded plugins provide
    load(path, task=None)         .prompt file -> task IR (dict)          [front end]
    compile(task)                 task IR -> PromptModel (torch.nn.Module) [model]
"""
from __future__ import annotations

from .hookspecs import hookimpl
from .registry import get_registry, register
from .specs import (DataFormatSpec, KnowledgeSourceSpec, MethodSpec, MetricSpec, ModelSourceSpec,
                    VerbalizerSpec, options_schema)

__version__ = "0.1.0"


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


__all__ = ["hookimpl", "get_registry", "register", "load", "compile", "MethodSpec",
           "VerbalizerSpec", "KnowledgeSourceSpec", "DataFormatSpec", "ModelSourceSpec",
           "MetricSpec", "options_schema", "__version__"]

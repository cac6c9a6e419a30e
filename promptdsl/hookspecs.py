"""The plugin hooks. Every hook returns a list of declarative spec objects (see `promptdsl.specs`).

Built-in plugins (the `plugins/` folder, imported as `promptdsl_plugins`) implement these hooks
exactly as a third-party package does, and are discovered through the same entry-point group.
A marked implementation whose name is none of these (`promptdsl_method`) is a PluginError
naming its plugin (the registry runs pluggy's `check_pending` after each registration).
"""
from __future__ import annotations

import pluggy

PROJECT = "promptdsl"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def promptdsl_methods():
    """Return a list of `MethodSpec`: tuning methods usable as `method NAME { … }`."""


@hookspec
def promptdsl_verbalizers():
    """Return a list of `VerbalizerSpec`: kinds usable as `verbalizer KIND { … }`."""


@hookspec
def promptdsl_knowledge_sources():
    """Return a list of `KnowledgeSourceSpec`: named label-word expansion sources (KPT `expand:`)."""


@hookspec
def promptdsl_data_formats():
    """Return a list of `DataFormatSpec`: readers for data files, chosen by file extension."""


@hookspec
def promptdsl_model_sources():
    """Return a list of `ModelSourceSpec`: resolvers from a `model:` name to a local directory."""


@hookspec
def promptdsl_metrics():
    """Return a list of `MetricSpec`: evaluation metrics usable as `metric: NAME`."""


@hookspec
def promptdsl_loggers():
    """Return a list of `LoggerSpec`: experiment trackers usable as `train { log: [NAME] }`."""

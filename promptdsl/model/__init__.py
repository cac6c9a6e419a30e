"""The model stage: a task IR compiled into a PromptModel (see docs/internals.md §3).

Public for plugins (loaded on first use, so `import promptdsl.model` stays light):
`PromptModel`; `Verbalizer` (the base class of verbalizer kinds: project → normalize →
calibrate → aggregate), `VerbalizerContext` (what `VerbalizerSpec.build` gets) and `EPS` (the
floor under probabilities before a log); `compile_task(task)`.
"""
_LAZY = {
    "PromptModel": "prompt_model",
    "Verbalizer": "verbalizer", "VerbalizerContext": "verbalizer", "EPS": "verbalizer",
    "compile_task": "compile",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_LAZY)

"""The model stage: a task IR compiled into a PromptModel (see docs/internals.md §3).

Public for plugins (loaded on first use, so `import promptdsl.model` stays light):
`PromptModel`; `Verbalizer` (the base class of verbalizer kinds: project → normalize →
calibrate → aggregate), `VerbalizerContext` (what `VerbalizerSpec.build` gets), `EPS` (the
floor under probabilities before a log) and `pool_tokens` (a multi-token word's score from its
tokens', `multi_token`), `token_table` (token-id lists as a padded table and its mask);
`compile_task(task)`.
"""
from ..lazy import lazy_exports

_LAZY = {
    "PromptModel": "prompt_model",
    "Verbalizer": "verbalizer", "VerbalizerContext": "verbalizer", "EPS": "verbalizer",
    "pool_tokens": "verbalizer", "token_table": "verbalizer",
    "compile_task": "compile",
}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = list(_LAZY)

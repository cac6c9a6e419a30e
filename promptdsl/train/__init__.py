"""The runtime: train, evaluate, predict, checkpoints and run directories.

    train_task(task, out=None, device=None)  -> summary dict    (promptdsl.train.runner)
    load_checkpoint(path, device=None)       -> PromptModel     (promptdsl.train.checkpoint)
    save_checkpoint(model, directory)        -> bytes written
    Trainer(model, task, device)             .train(train, validation) / .evaluate(split)

Modules: trainer (optimizer, schedule, evaluation), loop (one training loop), state (its
resumable state), interrupt (SIGTERM / Ctrl-C), distributed (ranks under torchrun), runner (one
run end to end, RunContext for methods with their own loop, resume), checkpoint, rundir (files,
locks), splits (data wiring), metrics, sweep, inference (eval / predict from a checkpoint),
seeding, build (compile + methods), prepare (the data-dependent set-up phase).
Imported lazily so that `import promptdsl.train` stays light.
"""
from __future__ import annotations

from ..lazy import lazy_exports

_LAZY = {"train_task": "runner", "RunContext": "runner", "load_checkpoint": "checkpoint",
         "save_checkpoint": "checkpoint", "Trainer": "trainer"}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = list(_LAZY)

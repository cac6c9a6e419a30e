"""Building the graph of a task: compile the IR, then apply its methods in file order.

Used by training and by checkpoint loading alike, so a checkpoint is rebuilt exactly as it was
trained."""
from __future__ import annotations

from ..model.compile import method_specs


def trains(task: dict) -> bool:
    """False when a method (zero_shot, cot) says the task only evaluates."""
    methods = method_specs(task)
    return bool(methods) and all(spec.trains for spec, _ in methods)


def build_model(task: dict):
    """The PromptModel of `task`, methods applied (compile_task applies them in file order)."""
    from ..model.compile import compile_task
    return compile_task(task)

"""Building the graph of a task: compile the IR, then apply its methods in file order.

Used by training and by checkpoint loading alike, so a checkpoint is rebuilt exactly as it was
trained."""
from __future__ import annotations

from ..errors import PluginError
from ..registry import get_registry


def method_specs(task: dict) -> list:
    """[(MethodSpec, options)] of the task's methods, in file order."""
    specs = get_registry().methods
    out = []
    for method in task.get("methods") or []:
        spec = specs.get(method["name"])
        if spec is None:
            known = ", ".join(sorted(specs)) or "(none loaded)"
            raise PluginError(f"unknown method `{method['name']}`; known methods: {known}")
        out.append((spec, dict(method.get("options") or {})))
    return out


def trains(task: dict) -> bool:
    """False when a method (zero_shot, cot) says the task only evaluates."""
    methods = method_specs(task)
    return bool(methods) and all(spec.trains for spec, _ in methods)


def build_model(task: dict):
    """The PromptModel of `task`, methods applied."""
    from ..model.compile import compile_task
    model = compile_task(task)
    if not getattr(model, "methods_applied", False):
        for spec, options in method_specs(task):
            spec.apply(model, options)
    return model

"""Trainable-parameter accounting: what trains, what the whole graph holds, what a checkpoint
of the trainable tensors weighs. `describe(task)` answers without loading weights (the backbone
is built on the meta device from its config), for `promptc check`."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class ParameterCount:
    trainable: int          # parameters with requires_grad (tied tensors counted once)
    total: int              # every parameter of the graph, tied tensors counted once
    trainable_bytes: int    # size of those tensors in a checkpoint (safetensors, their dtypes)

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "trainable_percent": round(self.trainable_percent, 4)}

    def __str__(self) -> str:
        return (f"{self.trainable:,} trainable of {self.total:,} parameters "
                f"({self.trainable_percent:.3f}%), checkpoint ≈ {human_bytes(self.trainable_bytes)}")


def count(model) -> ParameterCount:
    """Counts for a built model (a PromptModel or any nn.Module)."""
    trainable = total = size = 0
    for parameter in model.parameters():   # shared (tied) parameters are yielded once
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
            size += parameter.numel() * parameter.element_size()
    return ParameterCount(trainable, total, size)


def trainable_groups(model) -> dict:
    """{parameter name with layer numbers as `*`: trainable parameters}, so a user sees *what*
    trains ("backbone.model.layers.*.self_attn.q_proj.lora_A.default.weight"), not only how much."""
    groups: dict = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad and parameter.numel():
            key = ".".join("*" if part.isdigit() else part for part in name.split("."))
            groups[key] = groups.get(key, 0) + parameter.numel()
    return groups


def describe(task: dict) -> tuple:
    """(ParameterCount, trainable_groups) of a task, built on the meta device (no weights)."""
    from .compile import compile_task
    model = compile_task(task, meta=True)
    return count(model), trainable_groups(model)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"

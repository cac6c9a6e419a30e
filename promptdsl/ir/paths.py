"""Dotted keys (`train.learning_rate`, `method.lora.r`, `verbalizer.calibrate`) -> places in the
task IR, with the schema of each place. Shared by `sweep` and `--set`."""
from __future__ import annotations

from .schema import DATA, GENERATE, TRAIN

SECTIONS = {"data": DATA, "train": TRAIN, "generate": GENERATE}
TOP = {"model": {"type": "string"}, "metric": {"type": "string"}}
ROOTS = sorted(list(SECTIONS) + list(TOP) + ["method", "verbalizer"])


class PathError(ValueError):
    """The dotted key does not name a place in this task (message, plus choices for a hint)."""

    def __init__(self, message: str, word: str = "", choices=()):
        super().__init__(message)
        self.word, self.choices = word, list(choices)


def locate(ir: dict, dotted: str, registry) -> tuple[dict, str, dict]:
    """(container dict, key, schema of the value) for a dotted key, or PathError."""
    parts = dotted.split(".")
    root = parts[0]
    if len(parts) == 1 and root in TOP:
        return ir, root, TOP[root]
    if root in SECTIONS and len(parts) == 2:
        props = SECTIONS[root]["properties"]
        if parts[1] not in props:
            raise PathError(f"`{root}` has no field `{parts[1]}`", parts[1], props)
        if ir.get(root) is None:
            ir[root] = {}
        return ir[root], parts[1], props[parts[1]]
    if root == "verbalizer" and len(parts) == 2:
        verbalizer = ir.get("verbalizer")
        if not verbalizer:
            raise PathError(f"`{dotted}`: the task has no verbalizer"
                            + (" (it generates its `target`)" if ir.get("target") else ""))
        if parts[1] == "mask":
            return verbalizer, "mask", {"type": ["string", "null"]}
        spec = registry.verbalizers.get(verbalizer["kind"])
        props = (spec.schema.get("properties") or {}) if spec else {}
        if parts[1] not in props:
            raise PathError(f"verbalizer `{verbalizer['kind']}` has no option `{parts[1]}`",
                            parts[1], props)
        return verbalizer["options"], parts[1], props[parts[1]]
    if root in ("method", "methods") and len(parts) == 3:
        names = [m["name"] for m in ir.get("methods") or []]
        if parts[1] not in names:
            raise PathError(f"the task has no `method {parts[1]}`", parts[1], names)
        method = ir["methods"][names.index(parts[1])]
        spec = registry.methods.get(parts[1])
        props = (spec.schema.get("properties") or {}) if spec else {}
        if parts[2] not in props:
            raise PathError(f"method `{parts[1]}` has no option `{parts[2]}`", parts[2], props)
        return method["options"], parts[2], props[parts[2]]
    raise PathError(f"`{dotted}` does not name a field: use `block.field` (data, train, "
                    "generate), `verbalizer.option`, `method.NAME.option`, `model` or `metric`",
                    root, ROOTS)

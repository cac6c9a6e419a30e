"""Checkpoints hold only what training changed: the trainable tensors as safetensors, plus the
task IR that rebuilds everything else (compile the IR again, apply its methods, load the tensors).

    checkpoint/task.json               the task IR the graph is built from
    checkpoint/trainable.safetensors   PromptModel.trainable_state_dict()
    checkpoint/checkpoint.json         format, version, tensor names, aliases of tied tensors
    checkpoint/<whatever a method's MethodSpec.save writes>
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..errors import PromptdslError
from ..registry import get_registry
from .rundir import dumps

FORMAT = 1
TENSORS = "trainable.safetensors"
META = "checkpoint.json"
TASK = "task.json"


class CheckpointError(PromptdslError):
    """A checkpoint folder is missing, incomplete or does not fit its task."""


def _dedupe(state: dict) -> tuple[dict, dict]:
    """safetensors refuses tensors that share memory (tied embeddings): store each storage once
    and remember the other names as aliases."""
    unique, aliases, seen = {}, {}, {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.numel() and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        unique[name] = tensor.detach().to("cpu").contiguous()
    return unique, aliases


def save_checkpoint(model, directory) -> int:
    """Write the checkpoint of `model` into `directory`; return its size in bytes."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    task = model.task
    unique, aliases = _dedupe(model.trainable_state_dict())
    save_file(unique, str(directory / TENSORS), metadata={"format": str(FORMAT)})
    (directory / TASK).write_text(dumps(task, indent=2) + "\n", encoding="utf-8")
    methods = get_registry().methods
    for method in task.get("methods") or []:
        spec = methods.get(method["name"])
        if spec is not None and spec.save is not None:
            spec.save(model, method.get("options") or {}, directory)
    meta = {"format": FORMAT, "promptdsl": __version__, "task": task.get("name"),
            "model": task.get("model"), "labels": [str(label) for label in model.labels],
            "tensors": sorted(unique), "aliases": aliases}
    (directory / META).write_text(dumps(meta, indent=2) + "\n", encoding="utf-8")
    return directory_bytes(directory)


def directory_bytes(directory) -> int:
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def find_checkpoint(path) -> Path:
    """The checkpoint folder for `path`: a checkpoint folder itself or a run directory."""
    path = Path(path)
    for candidate in (path, path / "checkpoint"):
        if (candidate / TENSORS).is_file() and (candidate / TASK).is_file():
            return candidate
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint or run directory")
    raise CheckpointError(f"{path}: not a checkpoint (expected {TENSORS} and {TASK} in it or in "
                          f"its checkpoint/ folder)")


def read_checkpoint_task(path) -> dict:
    folder = find_checkpoint(path)
    try:
        return json.loads((folder / TASK).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder / TASK}: cannot be read: {exc}") from exc


def load_trainable(model, path) -> None:
    """Load a checkpoint's tensors into an already built `model` (same task, methods applied)."""
    folder = find_checkpoint(path)
    try:
        state = load_file(str(folder / TENSORS))
        meta = json.loads((folder / META).read_text(encoding="utf-8")) \
            if (folder / META).is_file() else {}
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"{folder}: the checkpoint cannot be read: {exc}") from exc
    for alias, name in (meta.get("aliases") or {}).items():
        state[alias] = state[name]
    expected = set(model.trainable_state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        what = []
        if missing:
            what.append(f"missing {len(missing)} tensor(s), e.g. {missing[0]}")
        if unexpected:
            what.append(f"{len(unexpected)} unknown tensor(s), e.g. {unexpected[0]}")
        raise CheckpointError(f"{folder}: the checkpoint does not fit the model built from its "
                              f"task.json ({'; '.join(what)})")
    params = dict(model.state_dict(keep_vars=True))
    with torch.no_grad():
        for name, value in state.items():
            target = params[name]
            if target.shape != value.shape:
                raise CheckpointError(f"{folder}: tensor {name} has shape {tuple(value.shape)}, "
                                      f"the model expects {tuple(target.shape)}")
            target.copy_(value.to(target.device, target.dtype))


def load_checkpoint(path, device=None):
    """Rebuild the PromptModel of a checkpoint: compile its task, apply methods, load tensors."""
    from .build import build_model
    task = read_checkpoint_task(path)
    model = build_model(task)
    load_trainable(model, path)
    from .prepare import restore_demonstrations
    restore_demonstrations(model)
    if device is not None:
        model.to(device)
    model.eval()
    return model


__all__ = ["save_checkpoint", "load_checkpoint", "load_trainable", "find_checkpoint",
           "read_checkpoint_task", "CheckpointError"]

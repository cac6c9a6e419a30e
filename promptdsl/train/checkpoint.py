"""Checkpoints hold only what training changed: the trainable tensors as safetensors, plus the
task IR that rebuilds everything else (compile the IR again, apply its methods, load the tensors).

    checkpoint/task.json               the task IR the graph is built from
    checkpoint/trainable.safetensors   PromptModel.trainable_state_dict(), less what methods stored
    checkpoint/checkpoint.json         format, version, tensor names, aliases of tied tensors,
                                       which tensors each method stored itself
    checkpoint/<whatever a method's MethodSpec.save writes>

Every tensor is stored once: a method whose `save` writes some of the trainable tensors in its own
format (lora: a peft adapter folder) returns their names, they are left out of
trainable.safetensors, and its `load` gives them back.

An ensemble checkpoint (`save_ensemble`) holds no tensors of its own: `members/<name>/` are
complete checkpoints and checkpoint.json lists them with their weights; `load_checkpoint` returns
an `Ensemble`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .. import __version__
from ..errors import PromptdslError
from ..model.compile import method_specs
from .rundir import dumps, write_safetensors, write_text

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
    state = model.trainable_state_dict()
    stored_by = {}
    for spec, options in method_specs(task):
        if spec.save is not None:
            names = sorted(spec.save(model, options, directory) or ())
            if names:
                stored_by[spec.name] = names
    stored = {name for names in stored_by.values() for name in names}
    unique, aliases = _dedupe({k: v for k, v in state.items() if k not in stored})
    write_safetensors(unique, directory / TENSORS, {"format": str(FORMAT)})
    write_text(directory / TASK, dumps(task, indent=2) + "\n")
    meta = {"format": FORMAT, "promptdsl": __version__, "task": task["name"],
            "model": task["model"], "labels": [str(label) for label in model.labels],
            "tensors": sorted(unique), "aliases": aliases, "stored_by": stored_by}
    write_text(directory / META, dumps(meta, indent=2) + "\n")
    return directory_bytes(directory)


def save_ensemble(task: dict, members: list, weights: list, labels: list, directory) -> int:
    """An ensemble checkpoint in `directory`: the member checkpoints already saved as
    `directory/members/<name>/`, combined by `weights` (one per member, in order) over their
    label scores."""
    directory = Path(directory)
    for name in members:
        find_checkpoint(directory / "members" / name)   # each member is a whole checkpoint
    write_text(directory / TASK, dumps(task, indent=2) + "\n")
    meta = {"format": FORMAT, "promptdsl": __version__, "task": task["name"],
            "model": task["model"], "labels": [str(label) for label in labels],
            "ensemble": {"members": list(members), "weights": [float(w) for w in weights]}}
    write_text(directory / META, dumps(meta, indent=2) + "\n")
    return directory_bytes(directory)


def directory_bytes(directory) -> int:
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def find_checkpoint(path) -> Path:
    """The checkpoint folder for `path`: a checkpoint folder itself or a run directory."""
    path = Path(path)
    for candidate in (path, path / "checkpoint"):
        if (candidate / TASK).is_file() and ((candidate / TENSORS).is_file() or
                                             (candidate / META).is_file()):
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


def read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8")) \
            if (folder / META).is_file() else {}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder / META}: cannot be read: {exc}") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{folder / META}: not a checkpoint description (a JSON object)")
    return meta


def load_trainable(model, path) -> None:
    """Load a checkpoint's tensors into an already built `model` (same task, methods applied)."""
    folder = find_checkpoint(path)
    meta = read_meta(folder)
    try:
        state = load_file(str(folder / TENSORS))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"{folder}: the checkpoint cannot be read: {exc}") from exc
    for alias, name in (meta.get("aliases") or {}).items():
        state[alias] = state[name]
    for spec, options in method_specs(model.task):
        if spec.name in (meta.get("stored_by") or {}) and spec.load is not None:
            state.update(spec.load(model, options, folder))
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
    """Rebuild the PromptModel of a checkpoint: compile its task, apply methods, load tensors
    (an ensemble checkpoint gives an `Ensemble` of its members)."""
    from .build import build_model
    folder = find_checkpoint(path)
    meta = read_meta(folder)
    if meta.get("ensemble"):
        return _load_ensemble(folder, meta, device)
    task = read_checkpoint_task(folder)
    model = build_model(task)
    load_trainable(model, folder)
    from .prepare import restore_demonstrations
    restore_demonstrations(model)
    if device is not None:
        model.to(device)
    model.eval()
    return model


def _load_ensemble(folder: Path, meta: dict, device):
    from ..model.ensemble import Ensemble
    spec = meta["ensemble"]
    members = {name: load_checkpoint(folder / "members" / name, device)
               for name in spec["members"]}
    return Ensemble(read_checkpoint_task(folder), members, spec["weights"])


__all__ = ["save_checkpoint", "save_ensemble", "load_checkpoint", "load_trainable",
           "find_checkpoint", "read_checkpoint_task", "CheckpointError"]

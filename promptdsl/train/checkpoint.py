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

import hashlib
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
            "tensors": sorted(unique), "aliases": aliases, "stored_by": stored_by,
            "sha256": _digests(directory)}
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


def _digests(directory: Path) -> dict:
    """sha256 of the checkpoint's tensor files (a method's own too), by relative path: `load`
    refuses one changed since (safetensors itself checks only its header). task.json is left
    out: pointing it at a moved model folder is a legitimate edit, and a task that does not
    fit the tensors is refused by their names and shapes."""
    return {p.relative_to(directory).as_posix(): file_sha256(p)
            for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name not in (META, TASK) and not p.name.endswith(".tmp")}


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


def _read_object(path: Path, what: str) -> dict:
    """A JSON object file of the checkpoint; CheckpointError naming the file otherwise."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: not {what} (a JSON object), but a "
                              f"{type(value).__name__}")
    return value


def read_checkpoint_task(path) -> dict:
    """The task IR a checkpoint is built from; CheckpointError naming task.json when it is
    not a JSON object or its top-level keys are missing or of the wrong JSON type (what is
    inside them is for building the model to judge: `load_checkpoint`)."""
    folder = find_checkpoint(path)
    file = folder / TASK
    task = _read_object(file, "a task IR")
    import jsonschema
    problem = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(_top_level_schema()).iter_errors(task))
    if problem is not None:
        where = ".".join(str(p) for p in problem.absolute_path) or "the top level"
        raise CheckpointError(f"{file}: not a task this version of promptdsl can build "
                              f"(at {where}: {problem.message})")
    from ..ir.schema import DATA, TRAIN, fill_defaults
    # settings a newer promptdsl added get their defaults, so older checkpoints still load
    task["data"], task["train"] = fill_defaults(task["data"], DATA), fill_defaults(task["train"],
                                                                                   TRAIN)
    return task


def _top_level_schema() -> dict:
    """The IR schema's top level only: its required keys, each with the JSON types the full
    schema allows for it (nested parts left open)."""
    from ..ir.schema import builtin_schema
    schema = builtin_schema()

    def types(sub: dict) -> list:
        if "$ref" in sub:
            sub = schema["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in sub:
            return [t for option in sub["anyOf"] for t in types(option)]
        kind = sub.get("type")
        return kind if isinstance(kind, list) else [kind] if kind else []
    properties = {key: {"type": sorted(set(types(sub)))} if types(sub) else {}
                  for key, sub in schema["properties"].items()}
    return {"type": "object", "required": schema["required"], "properties": properties}


def read_meta(folder: Path) -> dict:
    folder = Path(folder)
    if not (folder / META).is_file():
        return {}
    meta = _read_object(folder / META, "a checkpoint description")
    if not isinstance(meta.get("format", FORMAT), int) or meta.get("format", FORMAT) > FORMAT:
        raise CheckpointError(f"{folder / META}: checkpoint format {meta.get('format')!r}; this "
                              f"version of promptdsl reads format {FORMAT} and older")
    for key, kind in (("aliases", dict), ("stored_by", dict), ("tensors", list),
                      ("ensemble", dict), ("sha256", dict)):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise CheckpointError(f"{folder / META}: `{key}` is not a JSON "
                                  f"{'object' if kind is dict else 'list'}")
    return meta


def verify_digests(folder: Path, meta: dict) -> None:
    """Files whose sha256 checkpoint.json records must still have it (a flipped byte inside a
    tensor's data is otherwise invisible: safetensors checks only the header)."""
    for name, expected in (meta.get("sha256") or {}).items():
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise CheckpointError(f"{folder / META}: sha256 names {name}, outside the folder")
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (checkpoint.json lists it)")
        if file_sha256(path) != expected:
            raise CheckpointError(f"{path}: corrupted (its sha256 differs from the one "
                                  f"{META} recorded when it was saved)")


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_tensors(folder: Path) -> dict:
    path = folder / TENSORS
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (a checkpoint stores its tensors there)")
    try:
        return load_file(str(path))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: corrupted or truncated, cannot be read: {exc}") from exc


def _check_tensor(file: Path, name: str, value, target) -> None:
    """Shape, dtype and finiteness of one stored tensor against the model's."""
    if tuple(target.shape) != tuple(value.shape):
        raise CheckpointError(f"{file}: tensor {name} has shape {tuple(value.shape)}, the model "
                              f"built from {TASK} expects {tuple(target.shape)}")
    if value.dtype != target.dtype:
        raise CheckpointError(f"{file}: tensor {name} is {value.dtype}, the model expects "
                              f"{target.dtype}")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise CheckpointError(f"{file}: tensor {name} holds {bad} NaN or infinite value(s)")


def load_trainable(model, path) -> None:
    """Load a checkpoint's tensors into an already built `model` (same task, methods applied).
    Every tensor is checked (name, shape, dtype, finite values) before any is copied."""
    folder = find_checkpoint(path)
    meta = read_meta(folder)
    state = _read_tensors(folder)
    file = folder / TENSORS
    for alias, name in (meta.get("aliases") or {}).items():
        if name not in state:
            raise CheckpointError(f"{folder / META}: alias {alias} names tensor {name}, which "
                                  f"{TENSORS} does not hold")
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
    for name, value in state.items():
        _check_tensor(file, name, value, params[name])
    verify_digests(folder, meta)     # last: the specific reasons above say more
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device))


def _build(task: dict, folder: Path):
    """The model of a checkpoint's task; CheckpointError naming task.json when none can be
    built from it (a model folder gone, a plugin no longer installed, an edited IR)."""
    from .build import build_model
    try:
        return build_model(task)
    except (PromptdslError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{folder / TASK}: no model can be built from it: {exc}") from exc


def load_checkpoint(path, device=None):
    """Rebuild the PromptModel of a checkpoint: compile its task, apply methods, load tensors
    (an ensemble checkpoint gives an `Ensemble` of its members)."""
    folder = find_checkpoint(path)
    meta = read_meta(folder)
    if meta.get("ensemble"):
        return _load_ensemble(folder, meta, device)
    task = read_checkpoint_task(folder)
    model = _build(task, folder)
    load_trainable(model, folder)
    labels = meta.get("labels")
    if labels is not None and list(labels) != [str(label) for label in model.labels]:
        raise CheckpointError(f"{folder / META}: labels {labels} differ from those of its "
                              f"{TASK} ({', '.join(map(str, model.labels))})")
    from .prepare import restore_demonstrations
    restore_demonstrations(model)
    if device is not None:
        model.to(device)
    model.eval()
    return model


def _load_ensemble(folder: Path, meta: dict, device):
    from ..model.ensemble import Ensemble
    spec = meta["ensemble"]
    members, weights = spec.get("members"), spec.get("weights")
    if not (isinstance(members, list) and members and isinstance(weights, list)
            and len(weights) == len(members)
            and all(isinstance(name, str) and Path(name).name == name
                    and name not in ("", ".", "..") for name in members)  # no ../
            and all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights)):
        raise CheckpointError(f"{folder / META}: `ensemble` needs `members` (names) and as "
                              "many numeric `weights`")
    loaded = {name: load_checkpoint(folder / "members" / name, device) for name in members}
    return Ensemble(read_checkpoint_task(folder), loaded, weights)


__all__ = ["save_checkpoint", "save_ensemble", "load_checkpoint", "load_trainable",
           "find_checkpoint", "read_checkpoint_task", "file_sha256", "CheckpointError"]

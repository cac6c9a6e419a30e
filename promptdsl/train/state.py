"""Resumable training state: what `train.save_every` writes and `promptc train --resume` reads.

    <run>/state/train-<n>.safetensors   the n-th `Trainer.train` call of the run (0, 1, …)

One file per training loop, written atomically (temporary file, fsync, rename: the previous state
stays until the new one is complete). Its tensors are the trainable parameters, the best ones
kept for early stopping, the optimizer's per-parameter state and the RNG states; its metadata
(JSON) holds the step, the data-order position (epoch, next batch), the schedule, the optimizer's
hyper-parameters, the evaluations so far and how much of metrics.jsonl the run had written.

A run is deterministic, so a resumed run replays what came before the latest state without
writing it twice: a finished loop's state (`done`) gives back its final tensors and result,
the interrupted loop continues from its step, and the run's journal (metrics.jsonl) is cut back
to the length the latest state recorded. No pickle: tensors in safetensors, the rest in JSON.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy
import torch

from ..errors import PromptdslError
from .rundir import write_safetensors

FOLDER = "state"
FORMAT = 1


class StateError(PromptdslError):
    """A resumable state cannot be read or does not fit the run."""


# ------------------------------------------------------------------ RNG and optimizer codecs
def rng_state() -> tuple[dict, dict]:
    """(tensors, JSON) of python's, numpy's and torch's (CPU and CUDA) random states."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = numpy.random.get_state()
    tensors = {"rng.torch": torch.get_rng_state(),
               "rng.numpy": torch.from_numpy(numpy.asarray(keys, dtype=numpy.int64))}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    meta = {"python": [version, list(internal), gauss],
            "numpy": [kind, int(pos), int(has_gauss), float(cached)]}
    return tensors, meta


def set_rng_state(tensors: dict, meta: dict) -> None:
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, pos, has_gauss, cached = meta["numpy"]
    keys = tensors["rng.numpy"].numpy().astype(numpy.uint32)
    numpy.random.set_state((kind, keys, pos, has_gauss, cached))
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])


def optimizer_state(optimizer) -> tuple[dict, dict]:
    """(tensors, JSON) of `optimizer.state_dict()`: per-parameter tensors by index and key."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"groups": state["param_groups"], "scalars": scalars}


def load_optimizer_state(optimizer, tensors: dict, meta: dict) -> None:
    state: dict = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ------------------------------------------------------------------ the run's states
class RunStates:
    """The resumable states of one run and its journal position.

    `write_folder` is where states are written (None: nowhere); `read_folder` is where a
    resumed run reads them (None: a fresh run); `metrics_bytes()` the size of metrics.jsonl. Every `Trainer.train`
    call takes the next slot; `log_seq` counts the records the run has logged, and records below
    `replayed_below` were written before the resume and are not written again."""

    def __init__(self, write_folder: Path | None, read_folder: Path | None = None,
                 metrics_bytes=lambda: 0):
        self.write_folder = Path(write_folder) if write_folder else None
        self.read_folder = Path(read_folder) if read_folder else None
        self.metrics_bytes = metrics_bytes  # the current size of the run's metrics.jsonl
        self.slots = 0
        self.log_seq = 0
        self.replayed_below = 0

    def next_slot(self) -> "StateSlot":
        slot = StateSlot(self, f"train-{self.slots}")
        self.slots += 1
        return slot

    def latest(self) -> dict | None:
        """The metadata of the most recently written state in `read_folder`, or None."""
        if self.read_folder is None or not self.read_folder.is_dir():
            return None
        metas = [read_state(p)[1] for p in sorted(self.read_folder.glob("train-*.safetensors"))]
        return max(metas, key=lambda m: m["written"], default=None)

    def begin_resume(self) -> int | None:
        """Prepare a resumed run: records logged before the latest state are replayed, not
        written again. Returns how many bytes of metrics.jsonl to keep (None: no state)."""
        latest = self.latest()
        if latest is None:
            return None
        self.replayed_below = int(latest["log_seq"])
        return int(latest["metrics_bytes"])

    def should_write_log(self) -> bool:
        """Count one logged record; False while replaying what the run already wrote."""
        seq = self.log_seq
        self.log_seq += 1
        return seq >= self.replayed_below


class StateSlot:
    """The state file of one `Trainer.train` call."""

    def __init__(self, states: RunStates, key: str):
        self.states, self.key = states, key

    def load(self) -> tuple[dict, dict] | None:
        """(tensors, metadata) saved for this loop by the interrupted run, or None."""
        folder = self.states.read_folder
        if folder is None:
            return None
        path = folder / f"{self.key}.safetensors"
        if not path.is_file():
            return None
        tensors, meta = read_state(path)
        self.states.log_seq = int(meta["log_seq"])   # what this loop had logged is in the file
        return tensors, meta

    def save(self, tensors: dict, meta: dict) -> None:
        folder = self.states.write_folder
        if folder is None:
            return
        written = self.states.metrics_bytes()      # (creates the run directory first)
        folder.mkdir(parents=True, exist_ok=True)
        # `written` orders the states of a run in time: the log position only grows
        full = {**meta, "format": FORMAT, "log_seq": self.states.log_seq,
                "metrics_bytes": written,
                "written": [self.states.log_seq, int(self.key.rsplit("-", 1)[1]),
                            int(meta.get("step", 0)), bool(meta.get("done"))]}
        write_safetensors({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
                          folder / f"{self.key}.safetensors", {"state": json.dumps(full)})


def read_state(path: Path) -> tuple[dict, dict]:
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {})["state"])
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        raise StateError(f"{path}: the resumable state cannot be read ({exc}); remove it to "
                         "start that training loop again") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StateError(f"{path}: not a promptdsl training state of format {FORMAT}")
    return tensors, meta


__all__ = ["RunStates", "StateSlot", "StateError", "FOLDER"]

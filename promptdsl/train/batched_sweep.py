"""Training a sweep's points together: one process, one loaded backbone, every point's batches
through it at once.

When the points differ only in what the frozen backbone does not see (train seed, soft-prompt
init, learning rate, the template after the text, the verbalizer), each point runs its own
`train_task` — its own optimizer, schedule, early stopping and run folder, as when run alone —
in a thread, and `promptdsl.model.shared` joins their backbone reads and backward passes: a
step's batches of all points are one forward pass, each row with its point's soft prompt, and
the rows' fixed beginnings come from the prefix cache they share. Points that cannot share
(`sharing_reason`) run one after another, as `promptc train --sequential` does.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path

from ..model.prefix_cache import has_dropout
from ..model.shared import SharedBackbone, sharing
from .distributed import world
from .seeding import resolve_device
from .threads import BACKBONE_FIELDS, run_as_members, sharing_problem


def sharing_reason(runs: list) -> str | None:
    """Why the sweep's points (expand_sweep's (point, name, task) triples) cannot train together,
    or None when they can."""
    tasks = [task for _, _, task in runs]
    if len(tasks) < 2:
        return "the sweep has one point"
    if world().enabled:
        return "several processes (torchrun) share each point instead"
    first = tasks[0]
    # training runs on each task's own train.device (prediction is given one device)
    fields = {**BACKBONE_FIELDS, "train.device": lambda task: task["train"]["device"]}
    for key, read in fields.items():
        if any(read(task) != read(first) for task in tasks[1:]):
            return f"the points differ in `{key}`, which the backbone sees"
    for task in tasks:
        problem, model = sharing_problem(task)
        if problem is not None:
            return f"a point cannot share the backbone: {problem}"
    if has_dropout(model.backbone):
        return "the backbone has dropout, so its rows are not the same for every point"
    return None


def train_together(runs: list, root: Path, device: str | None, *, echo, resume: bool = False,
                   train_task=None) -> tuple:
    """(summaries in point order, {"seconds", "rounds", "joined_reads"}): every point trained
    at once (see module doc); rounds: joined backbone calls, joined_reads: reads in them."""
    if train_task is None:
        from .runner import train_task
    first = runs[0][2]
    shared = SharedBackbone(first["model"], bool(first.get("trust_remote_code", False)),
                            device=resolve_device(device or first["train"]["device"]))
    jobs = [functools.partial(train_task, task, out=root / name, device=device, progress=False,
                              echo=functools.partial(_tagged, echo, name), resume=resume)
            for _, name, task in runs]
    started = time.perf_counter()
    with sharing(shared):
        shared.load()
        summaries = run_as_members(shared, jobs)
    return summaries, {"seconds": round(time.perf_counter() - started, 3),
                       "rounds": shared.reads.rounds, "joined_reads": shared.reads.joined}


def _tagged(echo, name: str, text: str) -> None:
    echo(f"[{name}] {text}")

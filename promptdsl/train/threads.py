"""Jobs in threads that share one backbone (promptdsl.model.shared): a batched sweep's points,
several checkpoints' predictions."""
from __future__ import annotations

import threading

from . import interrupt


# what the backbone sees of a task, besides its rows: models sharing one loaded backbone (and
# one autocast: a joined read runs under the reading thread's) must agree on all of it
BACKBONE_FIELDS = {
    "model": lambda task: task["model"],
    "trust_remote_code": lambda task: bool(task.get("trust_remote_code", False)),
    "train.precision": lambda task: task["train"]["precision"],
}


def backbone_key(task: dict) -> tuple:
    """The BACKBONE_FIELDS values of `task`, in order: equal keys can share a backbone."""
    return tuple(read(task) for read in BACKBONE_FIELDS.values())


def sharing_problem(task: dict) -> tuple:
    """(why a model of `task` cannot join others on one backbone, or None; the model built on
    the meta device, from which that was read, or None): generation decodes on its own, a
    method with its own loop or scoring runs its own calls, and the prefix cache must be on
    (the model adds nothing the backbone computes: its plan says so)."""
    from ..model.compile import compile_task, method_specs
    if task.get("target") is not None:
        return "a generation task decodes through the backbone on its own", None
    for spec, _ in method_specs(task):
        if spec.run is not None:
            return f"method `{spec.name}` runs its own training loop", None
    model = compile_task(task, meta=True)         # shapes only: what the methods change
    plan = model.cache_plan()
    if not plan.enabled:
        return f"the prefix cache is off: {plan.reason}", model
    if model.row_scorer is not None:
        return "a method scores rows its own way", model
    return None, model


def run_as_members(shared, jobs: list) -> list:
    """Each job (a callable) in its own thread as a member of `shared.reads`, all started
    behind a barrier (every thread is a member before any reads, so the first read waits for
    the others'); their results in order. A job's failure stops the others at their next step
    (interrupt.request) and is raised here, before the others' Interrupted."""
    results: list = [None] * len(jobs)
    errors: list = []
    failed = threading.Event()
    ready = threading.Barrier(len(jobs))

    def work(number: int, job) -> None:
        with shared.reads.member():
            ready.wait()
            try:
                results[number] = job()
            except BaseException as exc:        # re-raised in the calling thread below
                errors.append((number, exc))
                if not isinstance(exc, interrupt.Interrupted):
                    failed.set()
                    interrupt.request()

    threads = [threading.Thread(target=work, args=(number, job), daemon=True,
                                name=f"member-{number}") for number, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)     # short waits: the calling thread keeps receiving signals
    if failed.is_set():
        interrupt.clear()       # the stop was ours, not a signal's
    if errors:
        errors.sort(key=lambda item: (isinstance(item[1], interrupt.Interrupted), item[0]))
        raise errors[0][1]
    return results

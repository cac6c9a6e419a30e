"""Several PromptModels over one loaded backbone in one process, their backbone calls joined.

A batched sweep trains its points in threads (promptdsl.train.batched_sweep); predicting with
several checkpoints scores every row with each of them. Each thread runs its model as it would
alone; `SharedReads` joins their work at the two places that cost: every backbone read
(`PromptModel.read_at`) and every backward pass. When every member thread is waiting, the last
to arrive runs the round: the reads become one batch (rows of every model, each with its own soft
prompt already embedded; the prefix cache serves every row's fixed beginning), and the losses
one backward pass (the models' parameters are disjoint, so each gets its own gradients). A
thread that is not a member runs its calls directly.

`SharedBackbone` is the loaded backbone they share; while one is `active`, `compile_task`
builds on it instead of loading the model again (for tasks that name the same model).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from dataclasses import dataclass, field

import torch

from .backbone_read import merge, run_read


@dataclass(eq=False)     # compared by identity
class _Request:
    kind: str                    # "read" | "backward"
    model: object
    payload: object              # a Read, or a loss tensor
    grad: bool = True
    autocast: tuple = ()         # (device type, dtype) when the caller ran under autocast
    held: bool = False           # left for the next round once (see _run_when_ready)
    done: bool = False
    result: object = None
    error: BaseException | None = None


class SharedReads:
    def __init__(self):
        self._cond = threading.Condition()
        self._members: set = set()
        self._pending: list = []
        self._running = threading.RLock()   # one backbone call at a time, joined or direct
        # rounds run in one thread of their own: the large, short-lived tensors of joined
        # batches then come from one allocator arena, reused round after round, instead of
        # growing one arena per member thread (a 5-point mixture sweep held 18 GB so)
        self._executor = None
        self._gathered: set = set()        # members waiting at `gather` (rounds go on without)
        self._away: set = set()            # members running their calls on their own
        self._gate_open = False
        self.rounds = 0           # joined rounds run
        self.joined = 0           # reads that ran together with another model's

    # ---------------------------------------------------------------- membership
    @contextlib.contextmanager
    def member(self):
        """The calling thread's calls are joined with the other members' while inside."""
        me = threading.get_ident()
        with self._cond:
            self._members.add(me)
        try:
            yield
        finally:
            with self._cond:
                self._members.discard(me)
                self._away.discard(me)
                self._gathered.discard(me)
                self._run_when_ready()
                self._cond.notify_all()           # a gather may wait for this member
                if not self._members and self._executor is not None:
                    self._executor.shutdown(wait=False)     # idle: its thread ends
                    self._executor = None

    @contextlib.contextmanager
    def away(self):
        """A member's calls run on their own while inside (building a model, which takes
        turns with the other threads, must not wait for them)."""
        me = threading.get_ident()
        with self._cond:
            was = me in self._members and me not in self._away
            if was:
                self._away.add(me)
                self._run_when_ready()
        try:
            yield
        finally:
            if was:
                with self._cond:
                    self._away.discard(me)

    def gather(self) -> None:
        """Wait until every member has come here (or left): called before a training loop, so
        that the threads start it together — a thread still building its model would otherwise
        start late and end its steps alone, unjoined. Once every member has come, it no longer
        waits."""
        me = threading.get_ident()
        with self._cond:
            if self._gate_open or me not in self._members:
                return
            self._gathered.add(me)
            self._run_when_ready()       # the others' rounds no longer wait for this thread
            while not self._gate_open and not self._members <= self._gathered:
                self._cond.wait()
            self._gate_open = True
            self._gathered.clear()
            self._cond.notify_all()

    # ---------------------------------------------------------------- calls
    def read(self, model, read) -> tuple:
        # grad mode and autocast are per thread: the round runs them as the caller had them
        kind = model.device.type
        autocast = (kind, torch.get_autocast_dtype(kind)) \
            if torch.is_autocast_enabled(kind) else ()
        return self._submit(_Request("read", model, read, torch.is_grad_enabled(), autocast))

    def backward(self, model, loss) -> None:
        self._submit(_Request("backward", model, loss))

    def _submit(self, request: _Request):
        me = threading.get_ident()
        if me not in self._members or me in self._away:
            self._execute([request])
        else:
            with self._cond:
                self._pending.append(request)
                self._run_when_ready()
                while not request.done:
                    self._cond.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _run_when_ready(self) -> None:
        """Holding the lock: run a round once every member waits. When the members are at
        different calls (a thread that started late reads while the others step backward),
        the largest kind runs and the rest wait one round, so the threads fall into step;
        a request never waits twice."""
        if not self._pending or \
                len(self._pending) < len(self._members - self._gathered - self._away):
            return
        groups = self._groups(self._pending)
        largest = max(len(group) for group in groups.values())
        chosen = {key: group for key, group in groups.items()
                  if len(group) == largest or any(r.held for r in group)}
        picked = {id(r) for group in chosen.values() for r in group}
        for request in self._pending:
            request.held = id(request) not in picked
        self._pending = [r for r in self._pending if r.held]
        self.rounds += 1
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="promptdsl-shared-reads")
        self._executor.submit(self._run, chosen).result()
        self._cond.notify_all()

    @staticmethod
    def _key(request: _Request) -> tuple:
        return (request.kind, request.grad, request.autocast,
                request.model.cache_plan().enabled if request.kind == "read" else None)

    def _groups(self, requests: list) -> dict:
        """{key: requests} of calls that can run as one; a request whose key cannot be read
        is its own group (it fails when run)."""
        groups: dict = {}
        for request in requests:
            try:
                key = self._key(request)
            except Exception:
                key = ("unkeyed", id(request))
            groups.setdefault(key, []).append(request)
        return groups

    # ---------------------------------------------------------------- running a round
    def _execute(self, requests: list) -> None:
        self._run(self._groups(requests))

    def _run(self, groups: dict) -> None:
        """Run each group; every request ends done, with its result or the group's error."""
        with self._running:
            for key, group in groups.items():
                try:
                    kind, grad, autocast = key[0], key[1], key[2]
                    if kind == "backward":
                        torch.autograd.backward([r.payload for r in group])
                    else:
                        cast = torch.autocast(autocast[0], dtype=autocast[1]) if autocast \
                            else contextlib.nullcontext()
                        with torch.set_grad_enabled(grad), cast:
                            self._reads(group)
                except BaseException as exc:     # every caller of the group sees the failure
                    for request in group:
                        request.error = exc
                for request in group:
                    request.done = True

    def _reads(self, group: list) -> None:
        if len(group) == 1:
            group[0].result = run_read(group[0].model, group[0].payload)
            return
        left = group[0].model.family_rules.padding_side == "left"
        joined, counts = merge([r.payload for r in group], left=left)
        logits, hidden = run_read(group[0].model, joined)
        self.joined += len(group)
        for request, part_logits, part_hidden in zip(group, logits.split(counts),
                                                      hidden.split(counts)):
            request.result = (part_logits, part_hidden)


@dataclass
class SharedBackbone:
    """One loaded backbone for tasks naming `model`, and the reads of the models built on it."""
    model: str
    trust_remote_code: bool = False
    device: object = None
    reads: SharedReads = field(default_factory=SharedReads)
    building: threading.Lock = field(default_factory=threading.Lock)
    _loaded: tuple | None = None

    def serves(self, task: dict) -> bool:
        return task["model"] == self.model and \
            bool(task.get("trust_remote_code", False)) == self.trust_remote_code

    def load(self) -> tuple:
        """(tokenizer, backbone, family), loaded on first use."""
        if self._loaded is None:
            from .backbone import load_backbone
            tokenizer, backbone, family = load_backbone(
                self.model, trust_remote_code=self.trust_remote_code)
            if self.device is not None:
                backbone.to(self.device)
            self._loaded = (tokenizer, backbone, family)
        return self._loaded


_active: SharedBackbone | None = None


@contextlib.contextmanager
def sharing(shared: SharedBackbone):
    """While inside, tasks naming `shared.model` build on its backbone."""
    global _active
    previous, _active = _active, shared
    try:
        yield shared
    finally:
        _active = previous


def active_for(task: dict) -> SharedBackbone | None:
    return _active if _active is not None and _active.serves(task) else None


@contextlib.contextmanager
def exclusive():
    """Held while a model is seeded and built: threads building on one backbone take turns, so
    each model's random initialisation is what it would be alone."""
    if _active is None:
        yield
        return
    with _active.building, _active.reads.away():
        yield

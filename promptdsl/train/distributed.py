"""Many processes (torchrun, `accelerate launch`, srun + torchrun): the one place that knows
about them.

A launcher starts one process per device and tells each, through the environment, who it is:
RANK (0 … WORLD_SIZE-1 over all nodes), WORLD_SIZE, LOCAL_RANK (its device on this node) and
MASTER_ADDR / MASTER_PORT (where rank 0 listens). `world()` reads that once; without it the
process is alone, `World(0, 1, 0)`, and every method below is a no-op.

    run = world()
    device = run.init(device)        # joins the process group; cuda:LOCAL_RANK under CUDA
    model = run.wrap(model)          # DistributedDataParallel when there are several ranks
    mine = run.shard(items)          # items[rank::size]
    every = run.gather(mine)         # [rank 0's list, rank 1's list, …] on every rank
"""
from __future__ import annotations

import atexit
import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import PromptdslError

ENV_NAMES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
RENDEZVOUS_NAMES = ("MASTER_ADDR", "MASTER_PORT")


class DistributedError(PromptdslError):
    """The launcher's environment is incomplete or wrong, or the processes cannot be joined."""


def _env_int(environ, name: str, least: int) -> int:
    text = environ[name]
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < least:
        raise DistributedError(f"environment: {name}={text!r} is not a whole number >= {least}")
    return value


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, environ=None) -> "World":
        """The World a launcher described in `environ` (default os.environ). None of RANK,
        WORLD_SIZE, LOCAL_RANK set: one process. Some but not all, or a WORLD_SIZE > 1 without
        MASTER_ADDR/MASTER_PORT: an error naming what is missing (a half-configured launch would
        otherwise hang at the rendezvous or silently train alone)."""
        environ = os.environ if environ is None else environ
        present = [name for name in ENV_NAMES if environ.get(name, "") != ""]
        if not present:
            return cls()
        missing = [name for name in ENV_NAMES if name not in present]
        if missing:
            raise DistributedError(
                f"environment: {', '.join(present)} set but {', '.join(missing)} not; launch "
                f"with torchrun or accelerate launch, or unset {', '.join(present)} to run "
                f"one process")
        size = _env_int(environ, "WORLD_SIZE", 1)
        rank = _env_int(environ, "RANK", 0)
        local_rank = _env_int(environ, "LOCAL_RANK", 0)
        if rank >= size:
            raise DistributedError(f"environment: RANK={rank} is not below WORLD_SIZE={size}")
        if size > 1:
            unset = [name for name in RENDEZVOUS_NAMES if not environ.get(name)]
            if unset:
                raise DistributedError(
                    f"environment: WORLD_SIZE={size} but {' and '.join(unset)} not set: the "
                    f"ranks cannot find rank 0; launch with torchrun or accelerate launch")
        return cls(rank, size, local_rank)

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Several ranks and the process group joined: collectives can run."""
        return self.enabled and dist.is_available() and dist.is_initialized()

    def _require_group(self, what: str) -> None:
        if not self.active:
            raise DistributedError(f"{what} needs the process group: call world().init(device) "
                                   f"first (rank {self.rank} of {self.size})")

    # ---------------------------------------------------------------- joining
    def init(self, device) -> torch.device:
        """Join the process group once (gloo on the CPU, nccl on CUDA) from the launcher's
        environment; return the device this rank uses (cuda:LOCAL_RANK under CUDA)."""
        device = torch.device(device)
        if not self.enabled:
            return device
        if device.type == "cuda":
            if not torch.cuda.is_available() or not dist.is_nccl_available():
                raise DistributedError(
                    f"rank {self.rank}: nccl (the CUDA backend) asked for, but this torch has "
                    f"no usable CUDA; use --device cpu (gloo) or a CUDA build of torch")
            count = torch.cuda.device_count()
            if self.local_rank >= count:
                raise DistributedError(
                    f"rank {self.rank}: LOCAL_RANK={self.local_rank} but this node has {count} "
                    f"GPU(s); start at most {count} processes per node (--nproc_per_node)")
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
            backend = "nccl"
        elif device.type == "cpu":
            backend = "gloo"
        else:
            raise DistributedError(f"no process-group backend for device {device}; "
                                   f"use cpu or cuda")
        if not dist.is_initialized():
            options = {}
            if backend == "nccl" and "device_id" in inspect.signature(
                    dist.init_process_group).parameters:   # torch >= 2.3: bind the GPU now
                options["device_id"] = device
            try:
                dist.init_process_group(backend, init_method="env://", rank=self.rank,
                                        world_size=self.size, **options)
            except (RuntimeError, ValueError) as exc:     # rendezvous refused or timed out
                where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
                raise DistributedError(f"rank {self.rank}: cannot join the {backend} process "
                                       f"group at {where}: {exc}") from exc
            atexit.register(_leave)   # nccl warns at exit about a group never destroyed
        return device

    def wrap(self, model):
        """DistributedDataParallel(model) with several ranks (gradients averaged over them),
        else the model itself. A model with nothing to train is never wrapped: DDP refuses it
        and there is nothing to synchronise."""
        params = [p for p in model.parameters() if p.requires_grad]
        if not self.enabled or not params:
            return model
        self._require_group("wrap")
        on = params[0].device
        ddp = torch.nn.parallel.DistributedDataParallel
        # no buffer broadcast at each forward: every rank prepared its buffers (calibration,
        # kept words) from the same rows; torch >= 2.13 names it forward_sync_buffers
        no_sync = "forward_sync_buffers" if "forward_sync_buffers" in \
            inspect.signature(ddp).parameters else "broadcast_buffers"
        return ddp(model, device_ids=[on.index] if on.type == "cuda" else None,
                   find_unused_parameters=True,    # methods may leave parts of the graph unused
                   **{no_sync: False})

    # ---------------------------------------------------------------- collectives
    def owns(self, number: int) -> bool:
        """Whether item `number` of a sharded sequence is this rank's (round robin)."""
        return number % self.size == self.rank

    def shard(self, items) -> list:
        """This rank's items: items[rank::size]."""
        return [item for number, item in enumerate(items) if self.owns(number)]

    def gather(self, local) -> list:
        """Every rank's `local` (any picklable object), in rank order, on every rank."""
        if not self.enabled:
            return [local]
        self._require_group("gather")
        every = [None] * self.size
        dist.all_gather_object(every, local)
        return every

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum `tensor` over the ranks, in place; return it."""
        if self.enabled:
            self._require_group("all_reduce_sum")
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def barrier(self) -> None:
        if self.enabled:
            self._require_group("barrier")
            dist.barrier()

    def broadcast(self, obj):
        """Rank 0's `obj` (any picklable object), on every rank."""
        if not self.enabled:
            return obj
        self._require_group("broadcast")
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def unwrap(model):
    """The model under a DistributedDataParallel wrapper (the model itself when unwrapped)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


_WORLD: World | None = None


def world() -> World:
    """This process's one World, read from the environment on first use."""
    global _WORLD
    if _WORLD is None:
        _WORLD = World.from_env()
    return _WORLD

"""Timing and memory helpers shared by the figures.

Step times are medians of many steps; two candidates are timed interleaved (A B, B A, A B, ...)
so that load from other processes and thermal drift hit both alike. On CUDA every timed region
is bracketed by synchronize(). CPU peak memory is the process's peak RSS (VmHWM), which Linux
lets a process reset (`5 > /proc/self/clear_refs`), so a phase's peak can be read in one process.
"""
from __future__ import annotations

import contextlib
import os
import resource
import statistics
import time
from pathlib import Path


def device_and_autocast(want: str = "auto"):
    """(torch.device, autocast dtype or None): bf16 autocast on CUDA, fp32 on CPU."""
    import torch
    if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), None


def autocast(device, dtype):
    import torch
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def sync(device) -> None:
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def interleaved(candidates: dict, device, steps: int, warmup: int = 1) -> dict:
    """{name: median seconds} for zero-argument callables, timed in alternating order."""
    names = list(candidates)
    for _ in range(warmup):
        for name in names:
            candidates[name]()
    times = {name: [] for name in names}
    for i in range(steps):
        for name in (names if i % 2 == 0 else names[::-1]):
            times[name].append(timed(candidates[name], device))
    return {name: statistics.median(t) for name, t in times.items()}


# ---------------------------------------------------------------- memory

_STATUS = Path("/proc/self/status")


def _status_bytes(field: str) -> int | None:
    """A memory field of /proc/self/status ("VmRSS", "VmHWM") in bytes; None where unreadable."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    """Current resident set size."""
    return _status_bytes("VmRSS") or 0


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS to the current RSS (Linux); False where that is impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    peak = _status_bytes("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak(device) -> None:
    import torch
    reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device) -> dict:
    import torch
    out = {"peak_rss_mb": round(peak_rss_bytes() / 2**20, 1)}
    if device.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def training_state_bytes(model, optimizer) -> dict:
    """Bytes held by gradient buffers and optimizer state (what frozen parameters must not
    have), and how many parameters carry either."""
    import torch
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    state = [v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    frozen_with_grad = sum(1 for p in model.parameters() if not p.requires_grad
                           and p.grad is not None)
    frozen_in_optimizer = sum(1 for g in optimizer.param_groups for p in g["params"]
                              if not p.requires_grad)
    return {"grad_mb": round(tensor_bytes(grads) / 2**20, 3),
            "optimizer_state_mb": round(tensor_bytes(state) / 2**20, 3),
            "frozen_params_with_grad": frozen_with_grad,
            "frozen_params_in_optimizer": frozen_in_optimizer}


def threads() -> int:
    import torch
    return torch.get_num_threads()


def machine() -> dict:
    import platform
    import torch
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "load_average_1min": round(os.getloadavg()[0], 2)}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info

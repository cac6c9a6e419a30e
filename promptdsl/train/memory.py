"""Peak memory of this process, for summaries: the resident set's high-water mark and, on CUDA,
the most the allocator held."""
from __future__ import annotations

import resource
import sys

import torch


def peak_memory() -> dict:
    """{"peak_rss_bytes": …, "cuda_peak_bytes": … or None}."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss *= 1 if sys.platform == "darwin" else 1024     # Linux reports KiB, macOS bytes
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = int(torch.cuda.max_memory_allocated())
    return {"peak_rss_bytes": int(rss), "cuda_peak_bytes": cuda}

"""Seeds and devices: the two things every run sets up the same way."""
from __future__ import annotations

import random

import numpy
import torch

from ..errors import PromptdslError


class DeviceError(PromptdslError):
    """The requested device is not available."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and every GPU); return a generator for data order."""
    random.seed(seed)
    numpy.random.seed(seed % (2 ** 32))   # the data path and plugins draw from numpy too
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def resolve_device(choice: str | None) -> torch.device:
    """`auto` → cuda when torch sees a GPU, else cpu; `cuda` without a GPU is an error."""
    choice = (choice or "auto").lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("--device cuda was asked for, but torch sees no GPU "
                          f"(torch {torch.__version__}); use --device cpu or auto")
    try:
        return torch.device(choice)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device `{choice}`; use auto, cpu or cuda") from exc


def autocast_dtype(precision: str, device: torch.device):
    """The autocast dtype, or None for plain fp32. auto = bf16 on CUDA, fp32 on CPU."""
    precision = precision.lower()
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if device.type == "cuda" else None

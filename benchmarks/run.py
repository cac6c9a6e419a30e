"""One command for the whole suite: python -m benchmarks.run [--quick] [--write-notes]."""
from __future__ import annotations

import argparse

from .context import Context


def parse_args(argv=None) -> Context:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="tiny models and few steps (CI smoke: checks that it runs)")
    parser.add_argument("--data", help="folder with SST-2 train.tsv and dev.tsv "
                        "(default: the repo's tasks/data/sst2)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--models", default="", help="comma-separated model names to keep")
    args = parser.parse_args(argv)
    return Context(quick=args.quick, data=args.data, device_name=args.device,
                   only_models=tuple(m for m in args.models.split(",") if m))

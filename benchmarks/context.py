"""What every figure gets: quick or full sizes, the device, the data, the step counts, and
`emit(record)`, which prints one JSON line per figure and keeps it for the table and notes."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import measure, models, sst2


def quiet_libraries() -> None:
    """No progress bars or info logs from transformers: the output is JSON lines."""
    import os
    import transformers
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def benchmark_parser(module: str, description: str, quick: str):
    """The argument parser every `python -m benchmarks.X` starts from: --quick (`quick` says
    what it shrinks), --device, --threads; each benchmark adds its own options."""
    import argparse
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{module}", description=description)
    p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    return p


def chosen_figures(text: str, known) -> list:
    """The figures a `--figures a,b` argument names, in its order; SystemExit on unknown ones."""
    figures = [f for f in text.split(",") if f]
    unknown = sorted(set(figures) - set(known))
    if unknown:
        raise SystemExit(f"unknown figure(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return figures


def start(ctx) -> None:
    """The first record of every figure run: the machine, quick or not, when."""
    from datetime import datetime, timezone
    ctx.emit({"figure": "machine", **measure.machine(), "quick": ctx.quick,
              "utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")})


@dataclass
class Context:
    quick: bool = False
    data: str | None = None             # SST-2 folder (default: the repo's copy)
    device_name: str = "auto"
    threads: int | None = None          # torch threads (None: torch's default)
    only_models: tuple = ()             # restrict to these model names (empty: all)
    compare_models: tuple = ()          # figure 3's models (empty: the run's masked LM)
    records: list = field(default_factory=list)
    out = sys.stdout

    def __post_init__(self):
        quiet_libraries()
        if self.threads:
            import torch
            torch.set_num_threads(self.threads)
        self.device, self.autocast_dtype = measure.device_and_autocast(self.device_name)
        self._data = None

    # sizes of the run ------------------------------------------------------------
    def steps(self, size: models.ModelSize | None = None) -> int:
        """Timed steps per candidate (the median is taken over them)."""
        if self.quick:
            return 3
        if self.gpu:
            return 20
        return size.timing_steps if size is not None else 5

    @property
    def gpu(self) -> bool:
        return self.device.type == "cuda"

    def sizes(self) -> dict:
        chosen = models.sizes(self.quick)
        if self.only_models:
            chosen = {k: v for k, v in chosen.items() if k in self.only_models}
        return chosen

    def batch_size(self, size: models.ModelSize) -> int:
        return size.gpu_batch_size if self.gpu else size.batch_size

    # data ------------------------------------------------------------------------
    def data_folder(self) -> Path:
        return sst2.find_folder(self.data)

    def splits(self):
        """(train, dev) SST-2 splits, read once."""
        if self._data is None:
            limits = (2000, 200) if self.quick else (None, None)
            self._data = sst2.load(self.data_folder(), *limits)
        return self._data

    @property
    def workdir(self) -> Path:
        """Scratch space for task files and results (git-ignored)."""
        path = Path(__file__).resolve().parent / ".results"
        path.mkdir(exist_ok=True)
        return path

    def model_dir(self, size: models.ModelSize) -> Path:
        train, _ = self.splits()
        texts = train.sentences + [f"It was {w} ." for w in sst2.LABEL_WORDS.values()]
        return models.model_dir(size, texts)

    # output ----------------------------------------------------------------------
    def emit(self, record: dict) -> dict:
        record = {"device": self.device.type, **record}
        self.records.append(record)
        print(json.dumps(record, sort_keys=False), file=self.out, flush=True)
        return record

"""`log: [tensorboard]`: scalars as TensorBoard event files in `<run>/tensorboard/`."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from promptdsl import LoggerSpec
from promptdsl.errors import PluginError


def _check() -> None:
    if importlib.util.find_spec("tensorboard") is None:
        raise PluginError("logger `tensorboard` needs the tensorboard package: "
                          "pip install tensorboard")


class _Writer:
    def __init__(self, run_dir, task):
        from torch.utils.tensorboard import SummaryWriter   # imported only when used
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self.writer.close()      # flushes: the events are on disk when the run ends


SPECS = [LoggerSpec("tensorboard", open=_Writer, check=_check,
                    description="TensorBoard scalars in <run>/tensorboard/")]

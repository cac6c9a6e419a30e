"""The prepare phase: data-dependent set-up of a built PromptModel, before training or evaluation.

Some verbalizers need to look at data before they are used: KPT refines its label words on
unlabelled rows, `auto` searches label words on the training rows, `proto` starts its
prototypes from them, and calibration (any kind, `calibrate: contextual | prior`) divides by a
prior prediction. In-context demonstrations (`data.demonstrations: K`) are attached here too.

    prepare_model(model, train=…, unlabeled=…, echo=…)

1. demonstrations: K rows per label from the (few-shot) train rows, drawn with
   `data.sample_seed`, shown before every query (see `Demonstrations`);
2. `model.verbalizer.prepare(model, context)` when the verbalizer defines it, with a
   `PrepareContext` (below);
3. calibration, when the verbalizer's `calibrate` option asks for it: `contextual` on
   content-free inputs, `prior` on the unlabelled rows (the train rows when there are none).

Everything computed here lives in the verbalizer's persistent buffers and parameters, so a
checkpoint restores it without running the phase again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import DataError


@dataclass
class PrepareContext:
    """What a verbalizer's `prepare(model, context)` gets.

    - `task`: the task IR; `train`: the labelled train Table (few-shot sampled) or None;
      `unlabeled`: `data.unlabeled` or None; `echo(text)`: a progress line for the user.
    - `map_mask(rows, fn)`: runs the model (eval mode, no grad) over `rows` (a Table or dicts)
      in batches and returns `torch.cat` of `fn(mask_logits [B, V], mask_hidden [B, H])` on the
      CPU, in row order. Reduce inside `fn` (e.g. to label-word probabilities) to keep memory
      small.
    - `label_indices(table)`: [N] label index of each row of a labelled Table.
    - `write_found(words=…, template=…, note=…)`: hand what a search found to the run, which
      writes `task` with it as `found.prompt` in its run directory
      (`promptdsl.runtime.write_found`); False, and nothing written, outside a run.
    """
    task: dict
    model: object
    train: object = None
    unlabeled: object = None
    echo: object = field(default=print)
    found: object = None          # the run's `fn(task, **write_found options)`, or None

    def write_found(self, **options) -> bool:
        if self.found is None:
            return False
        self.found(self.task, **options)
        return True

    def map_mask(self, rows, fn) -> torch.Tensor:
        from ..model.rows import map_rows
        model = self.model
        return map_rows(model, rows, lambda batch: fn(*(t.float() for t in model.read(batch))))

    def label_indices(self, table) -> torch.Tensor:
        from ..data.labels import label_indices
        labels = [str(x) for x in self.model.labels]
        return torch.as_tensor(label_indices(table, self.task["data"]["label"], labels))


def prepare_model(model, *, train=None, unlabeled=None, echo=None, found=None) -> None:
    """Run the prepare phase on `model` with the run's `train` / `unlabeled` Tables (or None);
    `found`: where `context.write_found` goes (a run's `RunContext.found`)."""
    context = PrepareContext(model.task, model, train, unlabeled, echo or print, found)
    attach_demonstrations(model, train)
    verbalizer = model.verbalizer
    if hasattr(verbalizer, "prepare"):
        verbalizer.prepare(model, context)
    if getattr(verbalizer, "needs_calibration", False):  # kinds that do not subclass Verbalizer
        calibrate(model, context)


def attach_demonstrations(model, train) -> None:
    """Give `model` its in-context demonstrations when `data.demonstrations` asks for them."""
    task = model.task
    k = int(task["data"]["demonstrations"])
    if not k:
        return
    if getattr(model, "generates", False):
        raise DataError("data.demonstrations is not built for generation tasks (a `target`): "
                        "leave it out", task["file"])
    if train is None:
        raise DataError("data.demonstrations needs data.train to draw the examples from",
                        task["file"])
    from .demonstrations import Demonstrations
    model.demonstrations = Demonstrations(model, train, k, int(task["data"]["sample_seed"]))


def restore_demonstrations(model) -> None:
    """After loading a checkpoint: draw the same demonstrations again from the task's train
    data (they are a function of the data and `data.sample_seed`, not stored)."""
    if int(model.task["data"]["demonstrations"]):
        from . import splits
        train = splits.read_split(model.task, "train")
        attach_demonstrations(model, splits.few_shot(model.task, train))


def calibrate(model, context: PrepareContext) -> None:
    """`PromptModel.calibrate`: `contextual` on content-free inputs; `prior` on the unlabelled
    rows, else the train rows (labels ignored), else a clear error."""
    rows = None
    if model.verbalizer.calibration_mode == "prior":
        rows = context.unlabeled if context.unlabeled is not None else context.train
        if rows is None:
            raise DataError("`calibrate: prior` averages the model's predictions over "
                            "data.unlabeled (or data.train): the task has neither",
                            model.task["file"])
    model.calibrate(rows)

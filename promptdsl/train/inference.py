"""Evaluation and prediction from a saved checkpoint (`promptc eval`, `promptc predict`)."""
from __future__ import annotations

from ..data import Table, read_table
from ..errors import DataError
from . import splits
from .checkpoint import CheckpointError, load_checkpoint
from .seeding import autocast_dtype, resolve_device
from .trainer import Trainer


def _trainer(model, task, device, progress) -> Trainer:
    return Trainer(model, task, device,
                   autocast_dtype=autocast_dtype(task["train"]["precision"], device),
                   progress=progress)


def load_for_inference(checkpoint, device: str | None = None):
    """(model, torch device) of a checkpoint or run directory."""
    torch_device = resolve_device(device)
    return load_checkpoint(checkpoint, torch_device), torch_device


def evaluate_checkpoint(task: dict, checkpoint, *, split: str | None = None,
                        device: str | None = None, progress: bool = True):
    """Evaluate a checkpoint on `task`'s data (its test split, else validation).

    The graph comes from the checkpoint; the data from `task`, so a file may point a trained
    model at other data with the same labels. Returns (split name, Table, EvalResult)."""
    model, torch_device = load_for_inference(checkpoint, device or task["train"]["device"])
    if getattr(model, "generates", False) != (task.get("target") is not None):
        raise CheckpointError(f"{checkpoint}: the checkpoint "
                              f"{'generates' if model.generates else 'classifies'}, task "
                              f"`{task['name']}` {'classifies' if model.generates else 'generates'}")
    if task.get("target") is None and \
            [str(x) for x in model.labels] != [l["label"] for l in task["verbalizer"]["labels"]]:
        raise CheckpointError(f"{checkpoint}: the checkpoint's labels "
                              f"({', '.join(map(str, model.labels))}) differ from task "
                              f"`{task['name']}`'s")
    name = splits.final_split_name(task, split)
    table = splits.read_split(task, name)
    encoded = splits.EncodedSplit(name, model, table)
    result = _trainer(model, model.task, torch_device, progress).evaluate(encoded, desc=name)
    return name, table, result


def template_fields(task: dict) -> list:
    """The fields the task's template(s) read, in order of first use."""
    templates = [task["template"], *(task["templates"] or {}).values()]
    return list(dict.fromkeys(p["name"] for t in templates for p in t["pieces"]
                              if p["type"] == "field"))


def table_from_texts(task: dict, texts: list) -> Table:
    """A Table of `--text` inputs: each text fills the template's one field."""
    fields = template_fields(task)
    if len(fields) != 1:
        raise DataError(f"--text fills one field, but the template has {len(fields)} "
                        f"({', '.join(fields) or 'none'}); use --input with a data file")
    return Table("<--text>", [fields[0]], [{fields[0]: t} for t in texts],
                 list(range(1, len(texts) + 1)), header_line=None)


def predict_table(model, device, table: Table, progress: bool = True):
    """EvalResult (predictions and probabilities) for the rows of `table`; a label column, if
    present, is used for metrics too. A generation model generates one text per row (targets,
    if present, are ignored: `promptc eval` scores them)."""
    return predict_encoded(model, device, prediction_rows(model, table), progress)


def prediction_rows(model, table: Table) -> splits.EncodedSplit:
    """`table` encoded for prediction: a label column is read when present; a generation
    model's targets are not."""
    labelled = False if getattr(model, "generates", False) else None
    return splits.EncodedSplit("predict", model, table, labelled=labelled)


def predict_encoded(model, device, encoded: splits.EncodedSplit, progress: bool = True):
    """predict_table for rows already encoded (`prediction_rows`)."""
    return _trainer(model, model.task, device, progress).evaluate(encoded, desc="predict")


def read_input(path, task: dict) -> Table:
    """The rows of `predict --input`: a regular data file with a row at least and a column for
    every field the task's template reads (DataError at the file's header otherwise)."""
    table = read_table(path)
    table.require_rows("prediction")
    table.require_columns(template_fields(task), role="column for the template field")
    return table

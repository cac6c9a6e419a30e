"""Prediction with several checkpoints (`promptc predict --checkpoint A --checkpoint B …`): every
row scored by every checkpoint, prompt checkpoints of one backbone in one pass.

Checkpoints that only add what the frozen backbone reads through (soft prompts, verbalizers:
their `cache_plan()` is enabled) and name the same model are built on one loaded backbone
(`promptdsl.model.shared`); each predicts as it would alone, in its own thread, and their
backbone reads are joined, so a round reads every checkpoint's batch at once and the prefix
cache computes each row's fixed beginning once for all of them. The others (LoRA, adapters,
another model, masked LMs, generation, ensembles) run one after another, as alone: the output
is the same either way.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .checkpoint import CheckpointError, find_checkpoint, read_checkpoint_task, read_meta
from .inference import (load_for_inference, predict_encoded, predict_table, prediction_rows,
                        template_fields)
from .predictions import prediction_table
from .seeding import resolve_device
from .threads import BACKBONE_FIELDS, backbone_key, run_as_members, sharing_problem


@dataclass
class Checkpoint:
    name: str            # its columns' suffix: the run folder's name, made unique
    path: Path
    task: dict
    labels: list | None = None
    result: object = None          # EvalResult once predicted


def checkpoints_of(paths: list) -> list:
    """A Checkpoint (task read, name given) per --checkpoint path, in order; every one must
    read the template fields the first reads (CheckpointError naming it otherwise)."""
    folders = [find_checkpoint(p) for p in paths]
    found = [Checkpoint(name, Path(p), read_checkpoint_task(folder))
             for p, folder, name in zip(paths, folders, run_names(folders))]
    fields = template_fields(found[0].task)
    for checkpoint in found[1:]:
        own = template_fields(checkpoint.task)
        if set(own) != set(fields):
            raise CheckpointError(
                f"{checkpoint.path}: its task `{checkpoint.task['name']}` reads the field(s) "
                f"{', '.join(own) or '(none)'}, but {found[0].path} reads "
                f"{', '.join(fields) or '(none)'}; the checkpoints of one prediction read the "
                "same input")
    return found


def run_names(folders: list) -> list:
    """Each checkpoint folder's run name (the run directory holding checkpoint/, else the folder
    itself), with `-2`, `-3` … after repeats."""
    names, seen = [], set()
    for folder in folders:
        base = folder.parent.name if folder.name == "checkpoint" else folder.name
        name, number = base, 1
        while name in seen:
            number += 1
            name = f"{base}-{number}"
        seen.add(name)
        names.append(name)
    return names


def alone_reason(checkpoint: Checkpoint) -> str | None:
    """Why this checkpoint cannot join a shared backbone's pass (None when it can)."""
    from ..errors import PromptdslError
    if read_meta(find_checkpoint(checkpoint.path)).get("ensemble"):
        return "an ensemble checkpoint runs its members itself"
    try:
        return sharing_problem(checkpoint.task)[0]
    except (PromptdslError, KeyError, TypeError, ValueError):
        return "its model cannot be inspected"    # loading it alone reports why


def plan_passes(checkpoints: list) -> tuple:
    """([groups of checkpoints sharing one pass], {name: why it runs alone})."""
    reasons = {c.name: alone_reason(c) for c in checkpoints}
    groups: dict = {}
    for checkpoint in checkpoints:
        if reasons[checkpoint.name] is None:
            groups.setdefault(backbone_key(checkpoint.task), []).append(checkpoint)
    for key, group in groups.items():
        if len(group) == 1:
            same = ", ".join(f"{name} {value}" for name, value in
                             zip(list(BACKBONE_FIELDS)[1:], key[1:]))
            reasons[group[0].name] = (f"no other checkpoint shares its model `{key[0]}` "
                                      f"with {same}")
    return [g for g in groups.values() if len(g) > 1], \
        {name: reason for name, reason in reasons.items() if reason is not None}


def predict_many(checkpoints: list, table, device: str | None = None, *,
                 progress: bool = True, echo=lambda text: None) -> tuple:
    """(`checkpoints` (from checkpoints_of) with their labels and results, {"rounds",
    "joined_reads", "alone": {name: why it ran on its own}}) for the rows of `table`."""
    from ..model.shared import SharedBackbone, sharing
    groups, alone = plan_passes(checkpoints)
    if alone:
        echo("predict: " + "; ".join(f"{name} runs on its own ({why})"
                                      for name, why in alone.items()))
    stats = {"rounds": 0, "joined_reads": 0, "alone": alone}
    for group in groups:
        first = group[0].task
        shared = SharedBackbone(first["model"], bool(first.get("trust_remote_code", False)),
                                device=resolve_device(device))
        with sharing(shared):
            shared.load()
            loaded = [load_for_inference(c.path, device) for c in group]
        # encoded here, one after another: the threads share one tokenizer
        encoded = [prediction_rows(model, table) for model, _ in loaded]
        results = run_as_members(shared, [
            (lambda model=model, torch_device=torch_device, rows=rows:
             predict_encoded(model, torch_device, rows, progress=False))
            for (model, torch_device), rows in zip(loaded, encoded)])
        for checkpoint, (model, _), result in zip(group, loaded, results):
            checkpoint.labels, checkpoint.result = list(model.labels), result
        stats["rounds"] += shared.reads.rounds
        stats["joined_reads"] += shared.reads.joined
        del loaded, encoded       # the backbone goes before the next one loads
    for checkpoint in checkpoints:
        if checkpoint.name in alone:
            model, torch_device = load_for_inference(checkpoint.path, device)
            checkpoint.result = predict_table(model, torch_device, table, progress)
            checkpoint.labels = list(model.labels)
            del model
    return checkpoints, stats


def joined_table(table, checkpoints: list) -> tuple:
    """(header, rows): the template's input columns once, then each checkpoint's prediction
    columns (prediction_table's, less the leading ones) as `column[name]`."""
    fields = template_fields(checkpoints[0].task)
    header = list(fields)
    rows = [[row[f] for f in fields] for row in table.rows]
    for checkpoint in checkpoints:
        own_header, own_rows = prediction_table(table, checkpoint.result, checkpoint.labels, {})
        header += [f"{column}[{checkpoint.name}]" for column in own_header]
        row_of = checkpoint.result.rows
        by_row = dict(zip(row_of if row_of is not None else range(len(own_rows)), own_rows))
        for i, row in enumerate(rows):
            row.extend(by_row[i])
    return header, rows



"""PET / iPET on the runtime's RunContext (see promptdsl.train.runner.RunContext).

One model per named template is trained on the labelled data; the ensemble's label logits are
the mean of the members' logits (`weighting: accuracy`: weighted by each member's accuracy on the
train rows before training, as in PET). With `distill`, one model (first template) learns the
ensemble's soft labels on the unlabelled data. With `generations: N > 1` (iPET), each member of
generation g+1 also trains on unlabelled rows that the other members of generation g labelled
most confidently, 5× more rows each generation, balanced over labels.
"""
from __future__ import annotations

import copy

import torch

from promptdsl.errors import DataError, ModelError
from promptdsl.options import typed
from promptdsl.runtime import Ensemble, result_from_logits, save_checkpoint

from .pet import NAME, PetOptions

from ._distill import distill
from ._pseudo import pseudo_labelled

def pet_options(task: dict) -> PetOptions:
    options = next(m["options"] for m in task["methods"] if m["name"] == NAME)
    return typed(PetOptions, options, f"method {NAME}")


def template_names(task: dict, options: PetOptions) -> list[str]:
    templates = task["templates"] or {}
    if not templates:
        raise ModelError("method pet needs several named templates: write a "
                         "`templates { a: \"…\"  b: \"…\" }` block instead of `template:`")
    names = options.templates or list(templates)
    unknown = [n for n in names if n not in templates]
    if unknown:
        raise ModelError(f"method pet: unknown template(s) {', '.join(unknown)}; the task's "
                         f"templates are: {', '.join(templates)}")
    return names


def member_task(task: dict, name: str) -> dict:
    """The task of one member: that template, and the task's other methods (finetune when
    none trains), so `lora` + `pet` trains LoRA members."""
    member = copy.deepcopy(task)
    member["template"] = copy.deepcopy(task["templates"][name])
    others = [m for m in task["methods"] if m["name"] != NAME]
    member["methods"] = others or [{"name": "finetune", "options": {}}]
    member["templates"] = None
    return member  # the task's own name: `promptc eval FILE --checkpoint` finds its data


def run_pet(task: dict, context) -> dict:
    options = pet_options(task)
    names = template_names(task, options)
    generations = int(options.generations)
    weighting = options.weighting
    train, validation = context.table("train"), context.table("validation")
    unlabeled = context.table("unlabeled")
    if train is None:
        raise DataError("method pet trains one model per template, but the task has no "
                        "data.train", task["file"])
    if (options.distill or generations > 1) and unlabeled is None:
        raise DataError("method pet: `distill` and `generations` > 1 need data.unlabeled",
                        task["file"])
    final_name, final_table = context.final_split()
    labels = [entry["label"] for entry in task["verbalizer"]["labels"]]
    label_column = task["data"]["label"]
    # the last generation's members form the ensemble checkpoint: the run's checkpoint, or
    # ensemble/ beside the distilled model's (paths in the run directory, which is created on
    # the first write: an error before it leaves nothing behind)
    ensemble_dir = "ensemble" if options.distill else "checkpoint"

    train_sets = {name: train for name in names}
    for generation in range(1, generations + 1):
        outputs = {}
        for name in names:
            folder = f"{ensemble_dir}/members/{name}" if generation == generations else \
                f"members/{name}.g{generation}"
            outputs[name] = _train_member(context, task, name, train_sets[name], validation,
                                          final_table, final_name, unlabeled, generation,
                                          weighting, folder)
        if generation < generations:
            size = len(train) * 5 ** generation
            for name in names:
                others = [o for o in names if o != name] or [name]
                train_sets[name] = pseudo_labelled(
                    train, unlabeled, weighted_mean(outputs, others, "unlabeled", weighting),
                    labels, label_column, size)

    gold = final_table.column(label_column) if label_column in final_table.columns else None
    members = {}
    for name in names:
        if gold is not None:
            members[name] = result_from_logits(outputs[name]["final"], labels, gold,
                                               task["metric"]).metrics
            context.log({"split": final_name, "member": name, "generation": generations,
                         **members[name]})
    weights = member_weights(outputs, names, weighting)
    ensemble = weighted_mean(outputs, names, "final", weighting)
    result = result_from_logits(ensemble, labels, gold, task["metric"])
    context.log({"split": final_name, "member": "ensemble", **result.metrics})
    context.finish_ensemble(names, weights.tolist(), result, final_table,
                            context.rundir.path / ensemble_dir)
    summary = {**result.metrics, "members": members}

    if options.distill:
        targets = weighted_mean(outputs, names, "unlabeled", weighting)
        student = context.build_model(member_task(task, names[0]))
        context.prepare(student)
        distill(student, context, unlabeled, targets, validation)
        encoded = context.encode(student, final_table, final_name)
        distilled = context.trainer(student).evaluate(encoded, desc=final_name)
        context.log({"split": final_name, "member": "distilled", **distilled.metrics})
        context.finish(student, distilled, final_table, final_name)
        summary = {**distilled.metrics, "ensemble": result.metrics, "members": members}
    return summary


def member_weights(outputs: dict, names: list, weighting: str) -> torch.Tensor:
    """One weight per member, summing to 1: equal, or by each member's accuracy on the train
    rows before training (PET's weighting)."""
    if weighting != "accuracy":
        return torch.full((len(names),), 1 / len(names))
    weights = torch.tensor([outputs[name]["prior_accuracy"] for name in names])
    return weights / weights.sum() if weights.sum() > 0 else torch.full_like(weights, 1 / len(names))


def weighted_mean(outputs: dict, names: list, key: str, weighting: str) -> torch.Tensor:
    """The members' `key` logits averaged with `member_weights`, as the ensemble checkpoint
    will score them."""
    return Ensemble.combine([outputs[name][key] for name in names],
                            member_weights(outputs, names, weighting))


def _train_member(context, task, name, train, validation, final_table, final_name, unlabeled,
                  generation, weighting, folder) -> dict:
    """Train one member; keep its label logits on the final split and the unlabelled rows,
    save its checkpoint in `folder` (relative to the run directory), and let the model go."""
    model = context.build_model(member_task(task, name))
    context.prepare(model)
    trainer = context.trainer(model)
    encoded_train = context.encode(model, train, "train")
    record = {"pet_member": name, "generation": generation, "train_rows": len(train)}
    if weighting == "accuracy":
        record["train_accuracy_before"] = \
            trainer.evaluate(encoded_train, desc="train").metrics.get("accuracy", 0.0)
    context.echo(f"pet: template `{name}`, generation {generation}: training on {len(train)} rows")
    context.log(record)
    trainer.train(encoded_train,
                  context.encode(model, validation, "validation") if validation else None)
    out = {"prior_accuracy": record.get("train_accuracy_before"),
           "final": trainer.scores(context.encode(model, final_table, final_name),
                                   desc=final_name)[0]}
    if unlabeled is not None:
        out["unlabeled"] = trainer.scores(context.encode(model, unlabeled, "unlabeled"),
                                          desc="unlabeled")[0]
    save_checkpoint(model, context.rundir.path / folder)
    return out

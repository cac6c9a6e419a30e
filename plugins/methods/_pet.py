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
from promptdsl.train.checkpoint import save_checkpoint
from promptdsl.train.metrics import compute_metrics
from promptdsl.train.prepare import prepare_model
from promptdsl.train.runner import write_predictions

from ._distill import distill
from ._pseudo import pseudo_labelled

FINAL_SPLITS = ("test", "validation")


def pet_options(task: dict) -> dict:
    for method in task.get("methods") or []:
        if method["name"] == "pet":
            return dict(method.get("options") or {})
    return {}


def template_names(task: dict, options: dict) -> list[str]:
    templates = task.get("templates") or {}
    if not templates:
        raise ModelError("method pet needs several named templates: write a "
                         "`templates { a: \"…\"  b: \"…\" }` block instead of `template:`")
    names = options.get("templates") or list(templates)
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
    others = [m for m in task.get("methods") or [] if m["name"] != "pet"]
    member["methods"] = others or [{"name": "finetune", "options": {}}]
    member["name"] = f"{task['name']}.{name}"
    return member


def run_pet(task: dict, context) -> dict:
    options = pet_options(task)
    names = template_names(task, options)
    generations = int(options.get("generations") or 1)
    weighting = options.get("weighting") or "uniform"
    train, validation = context.table("train"), context.table("validation")
    unlabeled = context.table("unlabeled")
    if train is None:
        raise DataError("method pet trains one model per template, but the task has no "
                        "data.train", task.get("file"))
    if (options.get("distill") or generations > 1) and unlabeled is None:
        raise DataError("method pet: `distill` and `generations` > 1 need data.unlabeled",
                        task.get("file"))
    final_name = next((n for n in FINAL_SPLITS if context.table(n) is not None), None)
    if final_name is None:
        raise DataError("the task has no data.test or data.validation to evaluate on",
                        task.get("file"))
    final_table = context.table(final_name)
    labels = [entry["label"] for entry in task["verbalizer"]["labels"]]
    label_column = task["data"]["label"]

    train_sets = {name: train for name in names}
    for generation in range(1, generations + 1):
        outputs = {}
        for name in names:
            outputs[name] = _train_member(context, task, name, train_sets[name], validation,
                                          final_table, final_name, unlabeled, generation,
                                          weighting)
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
            predicted = [labels[i] for i in outputs[name]["final"].argmax(-1).tolist()]
            members[name] = compute_metrics(gold, predicted, labels, task.get("metric"))
            context.log({"split": final_name, "member": name, "generation": generations,
                         **members[name]})
    ensemble = weighted_mean(outputs, names, "final", weighting)
    result = _result(ensemble, labels, gold, task)
    context.log({"split": final_name, "member": "ensemble", **result.metrics})
    write_predictions(context.rundir, _Labels(labels), final_table, result, label_column)
    summary = {**result.metrics, "members": members}

    if options.get("distill"):
        targets = weighted_mean(outputs, names, "unlabeled", weighting)
        student = context.build_model(member_task(task, names[0]))
        prepare_model(student, context)
        distill(student, context, unlabeled, targets, validation)
        encoded = context.encode(student, final_table, final_name)
        scores, _ = context.trainer(student).scores(encoded, desc=final_name)
        distilled = _result(scores, labels, gold, task)
        context.log({"split": final_name, "member": "distilled", **distilled.metrics})
        context.finish(student, distilled, final_table, final_name)
        summary = {**distilled.metrics, "ensemble": result.metrics, "members": members}
    return summary


def weighted_mean(outputs: dict, names: list, key: str, weighting: str) -> torch.Tensor:
    """The members' `key` logits averaged: uniformly, or weighted by each member's accuracy on
    the train rows before training (PET's weighting)."""
    stacked = torch.stack([outputs[name][key] for name in names])
    if weighting != "accuracy":
        return stacked.mean(0)
    weights = torch.tensor([outputs[name]["prior_accuracy"] for name in names])
    weights = weights / weights.sum() if weights.sum() > 0 else torch.full_like(weights, 1 / len(names))
    return (stacked * weights[:, None, None]).sum(0)


def _train_member(context, task, name, train, validation, final_table, final_name, unlabeled,
                  generation, weighting) -> dict:
    """Train one member; keep its label logits on the final split and the unlabelled rows,
    save its checkpoint under members/<name>/, and let the model go."""
    model = context.build_model(member_task(task, name))
    prepare_model(model, context)
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
    save_checkpoint(model, context.rundir.path / "members" / f"{name}.g{generation}")
    return out


class _Labels:
    """What write_predictions reads from a model: its labels."""

    def __init__(self, labels):
        self.labels = labels


def _result(logits: torch.Tensor, labels: list, gold, task: dict):
    from promptdsl.train.trainer import EvalResult
    predicted = [labels[i] for i in logits.argmax(-1).tolist()]
    metrics = compute_metrics(gold, predicted, labels, task.get("metric")) if gold else {}
    return EvalResult(metrics, predicted, logits.softmax(-1), len(predicted), 0.0)

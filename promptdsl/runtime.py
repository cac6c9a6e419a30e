"""The public runtime API: what a plugin may use to run models, train them and write a run.

A method with its own loop (`MethodSpec.run(task, context)`, e.g. PET) gets a `RunContext`; a
method that scores rows its own way (chain of thought) sets `model.row_scorer` in `apply` and
uses `map_rows` / `label_scores` inside it. Everything here is documented in docs/plugins.md;
the modules behind it are private and may change.

Running a model over rows (eval mode, no grad, length-bucketed batches, row order kept):
    map_rows(model, rows, fn, batch_size=None, autocast=None, progress=False)
    label_scores(model, rows)            -> [N, L] label scores through the verbalizer
    score_rows(model, rows)              -> (scores, extra columns), honouring `row_scorer`
    generate_texts(model, rows, decoding=None) -> one generated text per row (generation tasks;
                                            Decoding / decoding_of(task): the `generate` settings)

A run (through `RunContext`, members in docs/plugins.md):
    context.table(split), context.final_split(), context.build_model(task), context.prepare(m),
    context.encode(model, table, name), context.trainer(model) -> Trainer,
    context.log(record), context.echo(text), context.finish(model, result, table, split),
    context.finish_ensemble(members, weights, result, table)

Training and results:
    Trainer(...).train(train_split, validation_split, loss=None) / .evaluate(split) / .scores(split)
    EvalResult, result_from_logits(logits, labels, gold, metric), compute_metrics(...),
    compute_text_metrics(predictions, references, metric)
    make_optimizer(model, train_config, device), make_schedule(optimizer, train_config, steps)
    save_checkpoint(model, folder), load_checkpoint(folder), Ensemble, write_tsv(path, header, rows),
    write_safetensors(tensors, path) (atomic, with the run files' permissions)

What a search found, as a task file (docs/plugins.md):
    write_found(task, directory, template=None, words=None, drop_methods=(), note="")
                                          -> directory/found.prompt, checked clean
    task_source(task, name=None, base_dir=None) -> the .prompt text of a task IR
    template_text(pieces)                 -> the template source of template pieces
"""
from __future__ import annotations

from .model.ensemble import Ensemble
from .model.generation import Decoding, decoding_of, generate_texts
from .model.rows import label_scores, map_rows, score_rows
from .ir.source import SourceError, task_source
from .syntax.template import template_text
from .train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .train.metrics import compute_metrics, compute_text_metrics
from .train.rundir import write_safetensors, write_tsv
from .train.found import FoundError, write_found
from .train.runner import RunContext
from .train.trainer import (EvalResult, Trainer, TrainResult, make_optimizer, make_schedule,
                            result_from_logits, total_steps)

__all__ = ["map_rows", "label_scores", "score_rows", "generate_texts", "Decoding",
           "decoding_of", "compute_text_metrics", "RunContext", "Trainer", "TrainResult",
           "EvalResult", "result_from_logits", "compute_metrics", "make_optimizer",
           "make_schedule", "total_steps", "save_checkpoint", "load_checkpoint",
           "CheckpointError", "Ensemble", "write_tsv", "write_safetensors", "write_found",
           "FoundError", "task_source", "SourceError", "template_text"]

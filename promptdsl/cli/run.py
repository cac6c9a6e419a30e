"""`promptc train | eval | predict` (the runtime). Arguments → promptdsl.train → printing."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .errors import parse_sets

DEVICE = click.Choice(["auto", "cpu", "cuda"], case_sensitive=False)


def load_tasks(file: str, task_name: str | None, overrides: dict | None) -> list[dict]:
    """The IRs to run: the named task, or every task defined in the file itself."""
    from .. import api
    if task_name:
        return [api.load(file, task=task_name, overrides=overrides or None)]
    return list(api.load_all(file, overrides=overrides or None).values())


def _progress() -> bool:
    """Progress bars only on a terminal; in logs (CI, files) neither ours nor the libraries'
    (transformers' weight-loading bars, the hub's download bars)."""
    if sys.stderr.isatty():
        return True
    import os
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    return False


def _print_table(rows: dict, err: bool = False) -> None:
    from ..train.metrics import format_table
    rows = {name: metrics for name, metrics in rows.items() if metrics}
    if rows:
        _echo(format_table(rows), err=err)


def _echo(text: str, err: bool = False) -> None:
    """Print on rank 0 only (under torchrun every rank runs the command)."""
    from ..train.distributed import world
    if world().is_main:
        click.echo(text, err=err)


def _run_one(task: dict, out, device, resume: bool = False) -> dict:
    from ..train.runner import train_task
    summary = train_task(task, out=out, device=device, progress=_progress(),
                         echo=lambda text: _echo(text, err=True), resume=resume)
    _echo(f"task {task['name']}: {summary['run_dir']}")
    _print_table({"test": summary.get("test"), "validation": summary.get("validation")})
    return summary


def _run_sweep(task: dict, out, device, resume: bool = False,
               sequential: bool = False) -> dict:
    from ..ir.sweep import expand_sweep
    from ..train.batched_sweep import sharing_reason, train_together
    from ..train.distributed import world
    from ..train.rundir import RunDir, check_free, default_run_dir
    from ..train.runner import train_task
    from ..train.splits import final_split_name
    from ..train.memory import peak_memory
    from ..train.sweep import aggregate
    root = Path(out) if out else default_run_dir(task["name"])
    if not resume and world().is_main:
        check_free(root)
    split = final_split_name(task)
    runs = expand_sweep(task)
    reason = "--sequential" if sequential else sharing_reason(runs)
    started, joined = time.perf_counter(), None
    if reason is None:
        _echo(f"sweep {task['name']}: {len(runs)} points train together on one backbone "
              "(--sequential: one after another)", err=True)
        done, joined = train_together(runs, root, device, resume=resume,
                                      echo=lambda text: _echo(text, err=True))
    else:
        _echo(f"sweep {task['name']}: {len(runs)} points one after another ({reason})",
              err=True)
        done = []
        for number, (_, name, run_task) in enumerate(runs, 1):
            _echo(f"sweep {task['name']} [{number}/{len(runs)}] {name}", err=True)
            done.append(train_task(run_task, out=root / name, device=device,
                                   progress=_progress(), resume=resume,
                                   echo=lambda text: _echo(text, err=True)))
    summaries = [{"point": point, **summary} for (point, _, _), summary in zip(runs, done)]
    rows = {name: summary.get(split) for (_, name, _), summary in zip(runs, done)}
    result = {"task": task["name"], "split": split, "sweep": task["sweep"],
              "runs": [{"point": s["point"], "run_dir": s["run_dir"],
                        "metrics": s.get(split), "wall_seconds": s["wall_seconds"],
                        "train_seconds": (s.get("train") or {}).get("seconds")}
                       for s in summaries],
              "aggregate": aggregate(summaries, split),
              "together": joined, "sequential_because": reason,
              "wall_seconds": round(time.perf_counter() - started, 3),
              "peak_memory": peak_memory()}
    if world().is_main:
        RunDir(root).write_json("sweep.json", result)
    agg = result["aggregate"]
    mean = {k: (v["mean"] if "mean" in v else {lab: x["mean"] for lab, x in v.items()})
            for k, v in agg.items()}
    std = {k: (v["std"] if "std" in v else {lab: x["std"] for lab, x in v.items()})
           for k, v in agg.items()}
    _echo(f"sweep {task['name']}: {root} ({split})")
    _print_table({**rows, "mean": mean, "std": std})
    for key in dict.fromkeys(("accuracy", "macro_f1", task["metric"])):
        if key in agg and key != "loss":
            _echo(f"{key}: {100 * agg[key]['mean']:.2f} ± {100 * agg[key]['std']:.2f} "
                       f"over {len(agg[key]['values'])} runs")
    return result


@click.command("train")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--task", "task_name", help="the task to run (default: every task in FILE)")
@click.option("--out", type=click.Path(file_okay=False),
              help="run directory (default: runs/<task>-<timestamp>); must not exist or be empty")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a field, e.g. --set train.epochs=1 (repeatable)")
@click.option("--device", type=DEVICE, default=None, help="default: the task's train.device")
@click.option("--resume", "resume", type=click.Path(file_okay=False), default=None,
              metavar="RUN_DIR", help="continue the run in RUN_DIR (stopped, killed or "
              "crashed) from its last saved state, with the same FILE and --set values")
@click.option("--sequential", is_flag=True,
              help="train a sweep's points one after another (by default points that differ "
              "only in what the frozen backbone does not see train together)")
@click.option("--log", "logs", multiple=True, metavar="NAME",
              help="an experiment logger, e.g. tensorboard (repeatable; added to train.log)")
def train_command(file, task_name, out, sets, device, resume, sequential, logs):
    """Train and evaluate the tasks of FILE; each run fills a run directory.

    SIGTERM or Ctrl-C saves a resumable state and says how to resume."""
    from ..errors import PromptdslError
    from ..train.interrupt import catching_signals
    if resume and out:
        raise click.UsageError("give --out or --resume, not both (--resume continues the run "
                               "directory it names)")
    if resume and not Path(resume).is_dir():
        raise PromptdslError(f"--resume {resume}: no such run directory (a run stopped "
                             "before it wrote anything left nothing to resume: start it again "
                             "with --out)")
    if logs:
        from ..train.loggers import logger_specs
        logger_specs(logs)               # an unknown name or a missing package: before any work
    tasks = load_tasks(file, task_name, parse_sets(sets))
    for task in tasks:                   # sweep points copy `train`, so each logs to its own run
        task["train"]["log"] = list(dict.fromkeys([*task["train"].get("log", []), *logs]))
    out = out or resume
    with catching_signals():
        for task in tasks:
            target = out
            if out and len(tasks) > 1:
                target = str(Path(out) / task["name"])
            if task.get("sweep"):
                _run_sweep(task, target, device, resume=bool(resume), sequential=sequential)
            else:
                _run_one(task, target, device, resume=bool(resume))


@click.command("eval")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--checkpoint", required=True, type=click.Path(),
              help="a run directory or its checkpoint/ folder")
@click.option("--task", "task_name", help="the task of FILE whose data to use "
                                          "(default: the checkpoint's task)")
@click.option("--split", type=click.Choice(["test", "validation", "train"]), default=None,
              help="default: test, else validation")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="override a field")
@click.option("--device", type=DEVICE, default=None)
def eval_command(file, checkpoint, task_name, split, sets, device):
    """Evaluate a trained checkpoint on FILE's data; print the metrics table."""
    from ..train.checkpoint import read_checkpoint_task
    from ..train.inference import evaluate_checkpoint
    saved = read_checkpoint_task(checkpoint)
    task = load_tasks(file, task_name or saved["name"], parse_sets(sets))[0]
    name, _, result = evaluate_checkpoint(task, checkpoint, split=split, device=device,
                                          progress=_progress())
    click.echo(f"task {task['name']} on {name} ({result.examples} examples, "
               f"{result.examples_per_second:.1f} examples/s)")
    _print_table({name: result.metrics})


@click.command("predict")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--checkpoint", "checkpoints", required=True, multiple=True, type=click.Path(),
              help="a run directory or its checkpoint/ folder (repeatable: every row is "
                   "predicted by each, prompt checkpoints of one model in one pass)")
@click.option("--text", "texts", multiple=True, help="an input for the template's one field "
                                                    "(repeatable)")
@click.option("--input", "input_path", type=click.Path(dir_okay=False),
              help="a data file (.tsv, .csv, .jsonl) with the template's fields")
@click.option("--output", type=click.Path(dir_okay=False), help="write the TSV here "
                                                                "instead of stdout")
@click.option("--device", type=DEVICE, default=None)
def predict_command(file, checkpoints, texts, input_path, output, device):
    """Predict labels (or generate text) with trained checkpoints; prints TSV: input,
    prediction, probabilities (classification); with several checkpoints, each one's
    columns as `prediction[RUN]`, `p(LABEL)[RUN]` …"""
    from ..errors import DataError
    from ..train.checkpoint import read_checkpoint_task
    from ..train.inference import (load_for_inference, predict_table, read_input,
                                   table_from_texts, template_fields)
    from ..train.multi_predict import checkpoints_of, joined_table, predict_many
    from ..train.predictions import prediction_table
    from ..train.rundir import tsv_line, write_tsv
    if bool(texts) == bool(input_path):
        raise DataError("give either --text (one or more) or --input FILE")
    if output and not Path(output).resolve().parent.is_dir():
        raise DataError(f"the folder of --output {output} does not exist")
    saved = [read_checkpoint_task(checkpoint) for checkpoint in checkpoints]
    for name in dict.fromkeys(task["name"] for task in saved):
        load_tasks(file, name, None)  # FILE must still check clean and hold each task
    # several checkpoints read one input (an error names the one that does not)
    found = checkpoints_of(checkpoints) if len(checkpoints) > 1 else None
    # the inputs are read and checked before the models load: a bad input costs no load time
    first = saved[0]
    table = table_from_texts(first, list(texts)) if texts else read_input(input_path, first)
    progress = _progress()
    if len(checkpoints) == 1:
        model, torch_device = load_for_inference(checkpoints[0], device)
        result = predict_table(model, torch_device, table, progress=progress)
        leading = {f: (lambda row, i, f=f: row[f]) for f in template_fields(model.task)}
        header, rows = prediction_table(table, result, model.labels, leading)
        metrics = {"input": result.metrics}
    else:
        predicted, _ = predict_many(found, table, device, progress=progress,
                                    echo=lambda text: click.echo(text, err=True))
        header, rows = joined_table(table, predicted)
        metrics = {c.name: c.result.metrics for c in predicted}
    if output:
        write_tsv(Path(output), header, rows)
        click.echo(f"wrote {len(rows)} predictions to {output}", err=True)
    else:
        click.echo(tsv_line(header))
        for row in rows:
            click.echo(tsv_line(row))
    _print_table(metrics, err=not output)


COMMANDS = [train_command, eval_command, predict_command]

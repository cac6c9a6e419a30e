"""`promptc check | compile | fmt | schema` (the language front end). Errors: see errors.py."""
from __future__ import annotations

import json
import sys

import click

from .. import api
from ..diagnostics import exit_code, render_all
from .errors import missing_files, parse_sets


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(files, tasks: int, diagnostics) -> str:
    """`ok: 2 files, 5 tasks, no errors` (and `, 1 warning` when there are warnings)."""
    warnings = sum(not d.is_error for d in diagnostics)
    line = f"ok: {_plural(len(files), 'file')}, {_plural(tasks, 'task')}, no errors"
    return line + (f", {_plural(warnings, 'warning')}" if warnings else "")


@click.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the diagnostics as a JSON list "
              "(with --params: an object of `diagnostics` and `tasks`).")
@click.option("--params", is_flag=True,
              help="Also show, per task, what trains: parameters and checkpoint size, and what "
                   "the prefix cache shares (builds the model on the meta device: needs the "
                   "tokenizer, never the weights).")
def check_command(files, as_json, params):
    """Report every error and warning in FILES. Exit 0 when clean, 1 on errors, 2 on bad usage."""
    missing_files(files)
    diagnostics, tasks = api.check_files(files)
    failed = any(d.is_error for d in diagnostics)
    described = [] if failed or not params else \
        [_describe(task) for file in files for task in tasks[file].values()]
    if as_json:
        listed = [d.to_json() for d in diagnostics]
        click.echo(json.dumps({"diagnostics": listed, "tasks": [d.as_json() for d in described]}
                              if params else listed, indent=2, ensure_ascii=False))
    else:
        if diagnostics:
            click.echo(render_all(diagnostics))
        for one in described:
            one.echo()
    if not (as_json or failed):   # clean: every task of every file built
        click.echo(summary_line(files, sum(map(len, tasks.values())), diagnostics))
    sys.exit(exit_code(diagnostics))


SHOWN_GROUPS = 8


class _Described:
    """One task's `--params` part: its parameter report, or why it could not be built."""

    def __init__(self, task, report=None, error: str = ""):
        self.task, self.report, self.error = task, report, error
        self.methods = " + ".join(m["name"] for m in task["methods"])

    def echo(self) -> None:
        head = f"task {self.task['name']} ({self.methods})"
        if self.report is None:
            click.echo(f"{head}: parameters not counted: {self.error}")
            return
        click.echo(f"{head}: {self.report.counts}")
        ranked = sorted(self.report.groups.items(), key=lambda item: -item[1])
        for group, n in ranked[:SHOWN_GROUPS]:
            click.echo(f"  trains {group}: {n:,}")
        if len(ranked) > SHOWN_GROUPS:
            rest = sum(n for _, n in ranked[SHOWN_GROUPS:])
            click.echo(f"  … and {len(ranked) - SHOWN_GROUPS} more groups: {rest:,}")
        click.echo(f"  {self.report.prefix}")

    def as_json(self) -> dict:
        out = {"task": self.task["name"], "file": self.task["file"],
               "methods": [m["name"] for m in self.task["methods"]]}
        if self.report is None:
            return {**out, "error": self.error}
        return {**out, "parameters": self.report.counts.as_dict(),
                "trains": self.report.groups, "prefix_cache": self.report.prefix.as_dict()}


def _describe(task) -> _Described:
    from ..errors import PromptdslError
    from ..model.params_cache import cached_report
    try:
        return _Described(task, cached_report(task))
    except PromptdslError as err:
        return _Described(task, error=str(err))


@click.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--task", "task", default=None, help="The task to compile (files with several).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a field, e.g. --set train.epochs=3 (repeatable).")
def compile_command(file, task, sets):
    """Print the task IR of FILE as JSON (the same bytes every time)."""
    missing_files([file])
    click.echo(api.compile_file(file, task=task, overrides=parse_sets(sets)), nl=False)


@click.command("fmt")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; exit 1 if a file is not formatted.")
def fmt_command(files, check_only):
    """Rewrite FILES in the canonical layout (comments kept)."""
    from ..syntax.fmt import format_file
    missing_files(files)
    status = 0
    for path in files:
        result = format_file(path, write=not check_only)
        if result.diagnostics:
            click.echo(render_all(result.diagnostics), err=True)
            status = 1
        elif result.changed and check_only:
            click.echo(f"would reformat {path}")
            status = 1
        elif result.changed:
            click.echo(f"formatted {path}")
    sys.exit(status)


@click.command("schema")
def schema_command():
    """Print the JSON Schema of the task IR (built-in and plugin parts merged)."""
    from ..ir.schema import ir_schema
    click.echo(json.dumps(ir_schema(), indent=2, ensure_ascii=False))


COMMANDS = [check_command, compile_command, fmt_command, schema_command]

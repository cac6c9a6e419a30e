"""`promptc report RUN_DIR… [--out report.html]` (the page is built in promptdsl.report)."""
from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", default="report.html", show_default=True, type=click.Path(),
              help="The HTML file to write (overwritten if it exists).")
def report_command(run_dirs, out):
    """Write one self-contained HTML page (curves, metrics, confusion matrix, per-label F1,
    sweeps, runs side by side) for RUN_DIRS: run, sweep or multi-task directories."""
    from ..report import write_report
    path = write_report(run_dirs, out)
    click.echo(f"report: {path}")


COMMANDS = [report_command]

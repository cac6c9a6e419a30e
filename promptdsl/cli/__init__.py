"""`promptc`: the command line. Each command module parses arguments, calls the public API and
prints; none holds logic of its own. Every command runs inside `errors.clean_errors` (one
error style, the exit codes of docs/cli.md)."""
from __future__ import annotations

import click

from . import frontend, lsp_cmd, plugins_cmd, report_cmd, run
from .errors import clean_errors


class Commands(click.Group):
    def invoke(self, ctx):
        with clean_errors():
            return super().invoke(ctx)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="promptdsl", prog_name="promptc")
def main():
    """promptc: check, compile, format, train and evaluate .prompt files."""


for _module in (frontend, run, plugins_cmd, report_cmd, lsp_cmd):
    for _command in _module.COMMANDS:
        main.add_command(_command)

"""`promptc plugins`: what is loaded, with versions. A plugin error exits 2 (errors.py)."""
from __future__ import annotations

import click

from ..registry import KINDS, get_registry


@click.command("plugins")
def plugins_command():
    """List loaded plugins and what each provides."""
    reg = get_registry()
    click.echo("plugins:")
    for info in reg.plugins:
        tag = "built-in" if info.builtin else "third-party"
        click.echo(f"  {info.package} {info.version}  ({info.name}, {tag})")
    for kind in KINDS:
        specs = getattr(reg, kind)
        names = ", ".join(f"{n}" for n in sorted(specs)) or "-"
        click.echo(f"{kind.replace('_', ' ')}: {names}")


COMMANDS = [plugins_command]

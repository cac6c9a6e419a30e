"""`promptc plugins`: what is loaded, with versions."""
from __future__ import annotations

import click

from ..errors import PromptdslError
from ..registry import KINDS, get_registry


@click.command("plugins")
def plugins_command():
    """List loaded plugins and what each provides."""
    try:
        reg = get_registry()
    except PromptdslError as exc:
        raise click.ClickException(str(exc))
    click.echo("plugins:")
    for info in reg.plugins:
        tag = "built-in" if info.builtin else "third-party"
        click.echo(f"  {info.package} {info.version}  ({info.name}, {tag})")
    for kind in KINDS:
        specs = getattr(reg, kind)
        names = ", ".join(f"{n}" for n in sorted(specs)) or "-"
        click.echo(f"{kind.replace('_', ' ')}: {names}")


COMMANDS = [plugins_command]

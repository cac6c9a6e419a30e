"""`promptc lsp`: the language server over stdin/stdout (docs/editors.md)."""
from __future__ import annotations

import click


@click.command("lsp")
def lsp_command():
    """Run the .prompt language server over stdio (for editors)."""
    try:
        from ..editor.lsp import serve
    except ImportError as err:          # the server's packages are an extra
        raise click.UsageError(f"promptc lsp needs pygls and lsprotocol ({err}): "
                               "pip install 'promptdsl[lsp]'") from None
    serve()


COMMANDS = [lsp_command]

"""Built-in verbalizers (registered through the promptdsl entry-point group)."""
from promptdsl import hookimpl


@hookimpl
def promptdsl_verbalizers():
    return []

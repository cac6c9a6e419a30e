"""Built-in methods (registered through the promptdsl entry-point group)."""
from promptdsl import hookimpl


@hookimpl
def promptdsl_methods():
    return []

"""Built-in metrics (registered through the promptdsl entry-point group)."""
from promptdsl import hookimpl


@hookimpl
def promptdsl_metrics():
    return []

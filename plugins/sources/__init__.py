"""Built-in sources (registered through the promptdsl entry-point group)."""
from promptdsl import hookimpl


@hookimpl
def promptdsl_model_sources():
    return []

"""Built-in data_formats (registered through the promptdsl entry-point group)."""
from promptdsl import hookimpl


@hookimpl
def promptdsl_data_formats():
    return []

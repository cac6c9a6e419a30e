"""Built-in experiment loggers, registered through the promptdsl entry-point group exactly as a
third party's are. Each module in this folder defines `SPECS`, a list of LoggerSpec."""
from promptdsl import hookimpl

from .._collect import collect_specs


@hookimpl
def promptdsl_loggers():
    return collect_specs(__name__, __path__)

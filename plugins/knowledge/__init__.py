"""Built-in knowledge sources (KPT `expand: NAME`), registered through the promptdsl entry-point group exactly as a third party's are.

Each module in this folder defines `SPECS`, a list of spec objects; adding a module adds its specs.
"""
from promptdsl import hookimpl

from .._collect import collect_specs


@hookimpl
def promptdsl_knowledge_sources():
    return collect_specs(__name__, __path__)

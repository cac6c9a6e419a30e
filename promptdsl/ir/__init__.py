"""Resolve (imports, extends, sweeps) -> task IR; JSON Schema; semantic checks."""
from .pipeline import Analysis, analyse
from .schema import builtin_schema, ir_schema
from .sweep import expand_sweep

__all__ = ["Analysis", "analyse", "builtin_schema", "ir_schema", "expand_sweep"]

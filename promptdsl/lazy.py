"""Lazy package exports: `import promptdsl.data` (or `.model`, `.train`) stays light, and a name
is imported from its module on first use."""
from __future__ import annotations

import importlib


def lazy_exports(package: str, table: dict):
    """A module `__getattr__` that finds `name` in `package`'s submodule `table[name]`."""
    def __getattr__(name):
        if name in table:
            return getattr(importlib.import_module(f".{table[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__

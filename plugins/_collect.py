"""Gathers the `SPECS` lists of every module in a built-in plugin folder."""
from __future__ import annotations

import importlib
import pkgutil


def collect_specs(package: str, path) -> list:
    specs = []
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        specs.extend(getattr(module, "SPECS", []))
    return specs

"""`sweep TASK { key: [values…] }`: the grid as IR (`sweep`), and its expansion into runs."""
from __future__ import annotations

import copy
import itertools

from ..diagnostics import Diagnostic, suggestion_hint
from ..registry import get_registry
from ..syntax import ast
from .paths import PathError, locate
from .schema import coerce
from .validate import Where, schema_diagnostics


def sweep_grid(sweep: ast.Sweep, ir: dict, registry) -> tuple[dict, list]:
    """The grid {dotted key: [values]} of a sweep block, each value checked against the schema
    of the field it sets."""
    grid, out = {}, []
    for entry in sweep.body:
        if isinstance(entry, ast.Block):
            out.append(Diagnostic.at(entry.name_span, "unexpected-block",
                                     "a sweep holds `block.field: [values…]`, not blocks"))
            continue
        try:
            container, key, schema = locate(copy.deepcopy(ir), entry.key, registry)
        except PathError as err:
            out.append(Diagnostic.at(entry.key_span, "unknown-field", str(err),
                                     suggestion_hint(err.word, err.choices)))
            continue
        items = entry.value.items if isinstance(entry.value, ast.ListV) else [entry.value]
        if not items:
            out.append(Diagnostic.at(entry.value.span, "invalid-value",
                                     f"`{entry.key}` sweeps over no values"))
            continue
        values = []
        for item in items:
            value = coerce(ast.plain(item), schema)
            where = Where(item.span)
            problems = schema_diagnostics({key: value}, {"properties": {key: schema}}, where,
                                          context=entry.key)
            out += [Diagnostic.at(item.span, d.code, d.message.replace(f"`{key}`",
                                                                       f"`{entry.key}`"), d.hint)
                    for d in problems]
            values.append(value)
        grid[entry.key] = values
    return grid, out


def expand_sweep(ir: dict, registry=None) -> list[dict]:
    """One IR per point of the task's sweep grid (the task itself when it has no sweep); each has
    `sweep: null`. Points follow the grid's key order, last key fastest."""
    grid = ir.get("sweep")
    if not grid:
        return [ir]
    registry = registry or get_registry()
    keys = list(grid)
    runs = []
    for point in itertools.product(*(grid[k] for k in keys)):
        run = copy.deepcopy(ir)
        run["sweep"] = None
        for key, value in zip(keys, point):
            container, field, _ = locate(run, key, registry)
            container[field] = copy.deepcopy(value)
        runs.append(run)
    return runs

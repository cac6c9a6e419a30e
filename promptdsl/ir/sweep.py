"""`sweep TASK { key: [values…] }`: the grid as IR (`sweep`), and its expansion into runs — the
one place that turns a sweep into run IRs (the runtime calls `expand_sweep`)."""
from __future__ import annotations

import copy
import hashlib
import itertools
import os
import re

from ..diagnostics import Diagnostic, suggestion_hint
from ..registry import get_registry
from ..syntax import ast
from ..specs import LABEL_METRIC, TEXT_METRIC
from .build import DATA_FILES, data_file, generates, metric_problem
from .paths import PathError, locate
from .schema import coerce
from .validate import Where, schema_diagnostics

SWEPT_FILES = {f"data.{role}" for role in DATA_FILES}


def sweep_grid(sweep: ast.Sweep, ir: dict, registry) -> tuple[dict, list]:
    """The grid {dotted key: [values]} of a sweep block, each value checked against the schema
    of the field it sets; swept data files are made absolute (against the sweep's file) and
    must exist."""
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
            if isinstance(item, ast.Num) and item.value is None:
                continue                 # a number the parser refused, reported there
            value = coerce(ast.plain(item), schema)
            where = Where(item.span)
            problems = schema_diagnostics({key: value}, {"properties": {key: schema}}, where,
                                          context=entry.key)
            out += [Diagnostic.at(item.span, d.code, d.message.replace(f"`{key}`",
                                                                       f"`{entry.key}`"), d.hint)
                    for d in problems]
            if entry.key in SWEPT_FILES and isinstance(value, str) and not problems:
                value, missing = data_file(value, item.span)
                out += [missing] if missing else []
            if entry.key == "metric" and isinstance(value, str) and not problems:
                kind = TEXT_METRIC if generates(ir) else LABEL_METRIC
                wrong = metric_problem(value, kind, item.span, registry)
                out += [wrong] if wrong else []
            values.append(value)
        grid[entry.key] = values
    return grid, out


UNSAFE = re.compile(r"[^A-Za-z0-9._,=+-]")
MAX_NAME = 120            # characters of a run folder's name (file systems allow 255 bytes)


def point_name(point: dict) -> str:
    """`sample_seed=13,learning_rate=1e-05` (a data file by its file name): a run's folder
    under --out, so made of safe characters only (see `safe_name`)."""
    shown = {key: os.path.basename(value) if key in SWEPT_FILES and value else value
             for key, value in point.items()}
    return safe_name(",".join(f"{key.split('.')[-1]}={value}" for key, value in shown.items()))


def safe_name(text: str) -> str:
    """`text` as one folder name: any character but letters, digits and `._,=+-` becomes `%XX`
    per UTF-8 byte (so `/`, `..` and absolute paths cannot leave --out, and distinct texts stay
    distinct); a long one is cut and ends in a hash of the whole."""
    name = UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in
                                        m.group().encode("utf-8", "surrogatepass")), text)
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(name.encode("ascii")).hexdigest()[:12]
        name = f"{name[:MAX_NAME - len(digest) - 1]}-{digest}"
    if not name.strip("."):              # "", "." or ".." would name no folder of its own
        name = name.replace(".", "%2E") or "_"
    return name


def expand_sweep(ir: dict, registry=None) -> list[tuple[dict, str, dict]]:
    """(point, point name, run IR) per point of the task's sweep grid, the grid's first key
    varying slowest; each run IR has `sweep: null`. Without a sweep: [({}, "", ir)].
    Names are unique, also where case does not count (a clash, e.g. two data files of one name,
    gets `-2`, `-3`, … added), and safe as one folder name (`point_name`)."""
    grid = ir.get("sweep")
    if not grid:
        return [({}, "", ir)]
    registry = registry or get_registry()
    keys = list(grid)
    runs, taken = [], set()
    for values in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, values))
        run = copy.deepcopy(ir)
        run["sweep"] = None
        for key, value in point.items():
            container, field, _ = locate(run, key, registry)
            container[field] = copy.deepcopy(value)
        name = unique = point_name(point)
        clash = 1
        while unique.lower() in taken:
            clash += 1
            unique = f"{name}-{clash}"
        taken.add(unique.lower())
        runs.append((point, unique, run))
    return runs

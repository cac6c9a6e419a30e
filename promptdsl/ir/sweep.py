"""`sweep TASK { key: [values…] }`: the grid as IR (`sweep`), and its expansion into runs — the
one place that turns a sweep into run IRs (the runtime calls `expand_sweep`)."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import os
import re

from ..diagnostics import Diagnostic, suggestion_hint
from ..registry import get_registry
from ..syntax import ast
from ..specs import LABEL_METRIC, TEXT_METRIC
from .build import DATA_FILES, Built, TaskBuilder, data_file, generates, metric_problem
from .checks import semantic_checks
from .data_checks import Tables
from .paths import PathError, locate
from .schema import coerce
from .validate import Where, schema_diagnostics

SWEPT_FILES = {f"data.{role}" for role in DATA_FILES}
TEMPLATE = "template"     # a swept template: its value is the template IR, not a schema value


def sweep_grid(sweep: ast.Sweep, ir: dict, registry, built: Built | None = None,
               tables: Tables | None = None) -> tuple[dict, list]:
    """The grid {dotted key: [values]} of a sweep block, each value checked against the schema
    of the field it sets; swept data files are made absolute (against the sweep's file) and
    must exist; a swept template is checked as the task's own (`swept_templates`).
    `built`: the task's Built (`ir` is its IR), so that those checks name the task's parts as
    the file writes them; `tables`: the data files read so far in this check."""
    grid, out = {}, []
    for entry in sweep.body:
        if isinstance(entry, ast.Block):
            out.append(Diagnostic.at(entry.name_span, "unexpected-block",
                                     "a sweep holds `block.field: [values…]`, not blocks"))
            continue
        items = entry.value.items if isinstance(entry.value, ast.ListV) else [entry.value]
        if entry.key != TEMPLATE:
            try:
                container, key, schema = locate(copy.deepcopy(ir), entry.key, registry)
            except PathError as err:
                choices = err.choices + [TEMPLATE] if "." not in entry.key else err.choices
                out.append(Diagnostic.at(entry.key_span, "unknown-field", str(err),
                                         suggestion_hint(err.word, choices)))
                continue
        if not items:
            out.append(Diagnostic.at(entry.value.span, "invalid-value",
                                     f"`{entry.key}` sweeps over no values"))
            continue
        if entry.key == TEMPLATE:
            grid[entry.key], problems = swept_templates(
                sweep, entry, items, built or Built(ir, Where(_before(sweep.name_span))),
                registry, tables or Tables())
            out += problems
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


def swept_templates(sweep: ast.Sweep, entry: ast.Field, items: list, built: Built, registry,
                    tables: Tables) -> tuple[list, list]:
    """The template IRs of `template: ["…", "…"]`, and the diagnostics of each: it is parsed as
    the task's own `template:` is (TaskBuilder) and every semantic check runs on the task with
    that template in place; what they find in the item is reported there (so is a verbalizer's
    `mask` the item lacks), what concerns the rest of the task is reported at the task."""
    if built.ir["templates"]:
        return [], [Diagnostic.at(entry.key_span, "template-and-templates",
                                  f"task `{built.ir['name']}` has `templates {{ … }}`; a sweep "
                                  "over `template` replaces the one `template` of a task",
                                  "give the task `template: \"…\"` instead of `templates`, or "
                                  "sweep another field")]
    parser = TaskBuilder(ast.Task(built.ir["name"], sweep.name_span, None, None, [], sweep.span),
                         built.ir["file"], [], registry)
    values, out = [], []
    for item in items:
        if isinstance(item, ast.Num) and item.value is None:
            continue                     # a number the parser refused, reported there
        parsed_so_far = len(parser.diagnostics)
        template = parser.parse_template_value(item, TEMPLATE)
        out += parser.diagnostics[parsed_so_far:]
        if template is None:
            continue                     # reported by the parser, at the item
        where = Where(built.where.fallback)
        where.spans = {**built.where.spans, (TEMPLATE,): (entry.key_span, item.span),
                       ("verbalizer", "mask"): (item.span, item.span)}
        templates = {k: t for k, t in built.templates.items() if k == "target"}
        variant = dataclasses.replace(
            built, ir={**built.ir, TEMPLATE: template.to_ir()}, where=where,
            templates={**templates, TEMPLATE: template},
            unparsed=[name for name in built.unparsed if name != TEMPLATE])
        out += [d for d in semantic_checks(variant, registry, tables) if _within(d, item.span)]
        values.append(template.to_ir())
    return values, out


def _within(diagnostic: Diagnostic, span) -> bool:
    return diagnostic.file == span.file and \
        (span.line, span.column) <= (diagnostic.line, diagnostic.column) and \
        (diagnostic.end_line, diagnostic.end_column) <= (span.end_line, span.end_column)


def _before(span):
    """An empty span where `span` starts: the place of what a bare IR cannot locate (it names
    no text, so no check quotes it)."""
    return dataclasses.replace(span, end=span.start, end_line=span.line, end_column=span.column)


UNSAFE = re.compile(r"[^A-Za-z0-9._,=+-]")
MAX_NAME = 120            # characters of a run folder's name (file systems allow 255 bytes)


def point_name(point: dict) -> str:
    """`sample_seed=13,learning_rate=1e-05` (a data file by its file name; a swept template is
    given by its 1-based place in the sweep's list, see `expand_sweep`): a run's folder under
    --out, so made of safe characters only (see `safe_name`)."""
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
    gets `-2`, `-3`, … added), and safe as one folder name (`point_name`); a swept template,
    too long for a folder name, is named by its 1-based place in the list (`template=2`)."""
    grid = ir.get("sweep")
    if not grid:
        return [({}, "", ir)]
    registry = registry or get_registry()
    keys = list(grid)
    runs, taken = [], set()
    for places in itertools.product(*(range(len(grid[k])) for k in keys)):
        point = {key: grid[key][place] for key, place in zip(keys, places)}
        run = copy.deepcopy(ir)
        run["sweep"] = None
        for key, value in point.items():
            container, field = (run, key) if key == TEMPLATE else locate(run, key, registry)[:2]
            container[field] = copy.deepcopy(value)
        name = unique = point_name({key: place + 1 if key == TEMPLATE else point[key]
                                    for key, place in zip(keys, places)})
        clash = 1
        while unique.lower() in taken:
            clash += 1
            unique = f"{name}-{clash}"
        taken.add(unique.lower())
        runs.append((point, unique, run))
    return runs

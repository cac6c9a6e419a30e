"""The data files of a task, read row by row through the reader `promptc train` uses, so that
`check` reports what training would reject: unreadable or ragged files, files with no rows,
missing columns (of the template, the target, the label), label values without label words, too
few rows for `shots`. A generation task has no label column: its target's fields are columns."""
from __future__ import annotations

import os

from ..data import sample_per_label
from ..data.labels import label_indices
from ..diagnostics import Diagnostic, suggestion_hint
from ..errors import DataError
from ..syntax.source import cached_source
from .build import DATA_FILES, Built
from .table_cache import cached_read

LABELLED = ("train", "validation", "test")


class Tables:
    """Each data file read once per check: path -> Table, or the DataError reading it raised."""

    def __init__(self):
        self._read: dict = {}

    def read(self, spec, path: str):
        if path not in self._read:
            try:
                self._read[path] = cached_read(spec, path)
            except DataError as err:
                self._read[path] = err
            except Exception as exc:  # a third-party reader's bug: still a located message
                self._read[path] = DataError(f"the `{spec.name}` reader failed: "
                                             f"{type(exc).__name__}: {exc}", path)
        found = self._read[path]
        if isinstance(found, DataError):
            raise found
        return found


def data_checks(built: Built, registry, tables: Tables) -> list:
    """Template fields must be columns of every data file; labels must match the verbalizer;
    every file must read cleanly and hold rows."""
    out = []
    ir = built.ir
    data = ir["data"]
    if not _valid_data_block(data):
        return out                       # its own errors are reported; nothing to compare with
    fields = [(p, s) for _, t in built.templates.items() for p, s in zip(t.pieces, t.spans)
              if p["type"] == "field"]
    labels = [entry["label"] for entry in ir["verbalizer"]["labels"]] if ir["verbalizer"] else []
    labelled = []                        # (role, table, shown, path) of the files with labels
    for role in DATA_FILES:
        path = data.get(role)
        if not path or not os.path.isfile(path):
            continue                     # a missing file is reported where it is named
        span = built.where.value(("data", role))
        shown = _shown(built, role)
        spec = registry.format_for(path)
        if spec is None:
            if registry.data_formats:
                known = sorted({e for s in registry.data_formats.values() for e in s.extensions})
                out.append(Diagnostic.at(span, "unknown-format", f"no data format reads "
                                         f"`{shown}`", f"known extensions: {', '.join(known)}"))
            continue
        try:
            table = tables.read(spec, path)
            table.require_rows(f"data.{role}")      # what train's read_split requires
        except DataError as err:
            out.append(Diagnostic.at(span, "bad-data", _located(err, path, shown),
                                     "fix the data file; `promptc train` would stop here"))
            continue
        out += _columns(built, role, table, fields, shown)
        if role in LABELLED and not built.generation and data["label"] in table.columns:
            labelled.append((role, table, shown, path))
    if labels and labelled:
        out += _labels(built, labelled, labels)
    return out


def _valid_data_block(data: dict) -> bool:
    from .schema import DATA
    from .validate import Validator
    return Validator(DATA).is_valid(data)


def _located(err: DataError, path: str, shown: str) -> str:
    """The reader's message with the data file as the .prompt file names it."""
    if err.file is not None and os.path.abspath(err.file) == os.path.abspath(path):
        return f"{shown}:{err.line}: {err.detail}" if err.line else f"{shown}: {err.detail}"
    return str(err)


def _columns(built: Built, role: str, table, fields: list, shown: str) -> list:
    out, reported = [], set()
    columns = table.columns
    for piece, piece_span in fields:
        name = piece["name"]
        if name in columns or (name, piece_span) in reported:
            continue
        reported.add((name, piece_span))
        in_target = _is_target_field(built, piece_span)
        if role == "unlabeled" and in_target:
            continue
        out.append(Diagnostic.at(
            piece_span, "unknown-column",
            f"{'target' if in_target else 'template'} field `{{{name}}}` is not a column of "
            f"{shown} (columns: {', '.join(columns)})", suggestion_hint(name, columns)))
    label = built.ir["data"]["label"]
    if role in LABELLED and not built.generation and label not in columns:
        out.append(Diagnostic.at(
            built.where.value(("data", "label")), "unknown-column",
            f"label column `{label}` is not a column of {shown} "
            f"(columns: {', '.join(columns)})", suggestion_hint(label, columns)))
    return out


def _labels(built: Built, labelled: list, labels: list) -> list:
    """A verbalizer label that no labelled file has means the verbalizer is wrong (the .prompt
    file's mistake, reported once, at that label, with both label sets). Otherwise the data is
    checked as train encodes it: every row's label needs label words, and the train file needs
    `shots` rows of each label (bad data, named at the file's row)."""
    column = built.ir["data"]["label"]
    values = list(dict.fromkeys(v for _, table, _, _ in labelled for v in table.column(column)))
    present = set(values) | {v.strip() for v in values}
    unknown = [label for label in labels if label not in present]
    if unknown:
        ours, theirs = _listed(labels), _listed(sorted(values, key=_natural))
        files = ", ".join(dict.fromkeys(shown for _, _, shown, _ in labelled))
        return [Diagnostic.at(
            built.where.key(("verbalizer", "labels", labels.index(unknown[0]))), "label-mismatch",
            f"verbalizer labels {{{ours}}} do not match the labels of {files} {{{theirs}}}",
            suggestion_hint(unknown[0], values) or "labels are the data's label values; quote "
            "ones that are not names: `\"0\": \"bad\"`")]
    out = []
    for role, table, shown, path in labelled:
        out += _label_words(built, role, table, labels, shown, path)
        if role == "train" and built.ir["data"]["shots"]:
            out += _shots(built, table, labels, shown, path)
    return out


def _label_words(built: Built, role: str, table, labels: list, shown: str, path: str) -> list:
    """The first row whose label has no label words (an empty cell, a value the verbalizer
    lacks), exactly as encoding for train finds it; the file's other such values listed."""
    column = built.ir["data"]["label"]
    try:
        label_indices(table, column, labels)     # exactly what encoding for train does
        return []
    except DataError as err:
        first_bad = err                          # `err` is unbound after the except block
    message = _located(first_bad, path, shown)
    values = table.column(column)
    named = values[table.lines.index(first_bad.line)] if first_bad.line in table.lines else None
    uncovered = [v for v in dict.fromkeys(values)
                 if v.strip() and v not in labels and v.strip() not in labels]
    if uncovered and uncovered != [named]:
        message += (f"; labels of {shown} without label words: "
                    f"{_listed(sorted(uncovered, key=_natural))}")
    return [Diagnostic.at(built.where.value(("data", role)), "bad-data", message,
                          "give every row a label the verbalizer has, or add the label to the "
                          "verbalizer: `\"label\": \"word\"`")]


def _shots(built: Built, table, labels: list, shown: str, path: str) -> list:
    """Too few train rows of a label for `shots`: a problem of the data, at the train path."""
    data = built.ir["data"]
    try:
        sample_per_label(table, data["label"], int(data["shots"]), int(data["sample_seed"]),
                         labels=labels)
    except DataError as err:
        return [Diagnostic.at(built.where.value(("data", "train")), "bad-data",
                              _located(err, path, shown),
                              "lower `shots`, or use a train file with more rows per label")]
    return []


def _is_target_field(built: Built, span) -> bool:
    target = built.templates.get("target")
    return target is not None and span in target.spans


def _shown(built: Built, role: str) -> str:
    """The data path as the .prompt file writes it."""
    span = built.where.value(("data", role))
    src = cached_source(span.file)
    text = src.text[span.start:span.end] if src else ""
    return text[1:-1] if len(text) >= 2 else built.ir["data"][role]


def _listed(values: list, most: int = 12) -> str:
    shown = ", ".join(values[:most])
    return shown + (f", … ({len(values)} in all)" if len(values) > most else "")


def _natural(value: str):
    return (0, int(value), "") if value.lstrip("-").isdigit() else (1, 0, value)

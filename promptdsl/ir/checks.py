"""Semantic checks that need no model weights: masks, data columns and labels, the model
family's mask placement, soft tokens under a method that does not train."""
from __future__ import annotations

import os

from ..diagnostics import WARNING, Diagnostic, suggestion_hint
from ..families import family_of_config, mask_placement_error
from .build import DATA_FILES, Built
from .model_config import model_config

LABELLED = ("train", "validation", "test")


def semantic_checks(built: Built, registry) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out += _needs_head(built)
    out += _masks(built)
    out += _data(built, registry)
    out += _family(built)
    out += _soft_without_training(built, registry)
    out += _splits(built, registry)
    return out


def _classifying(ir) -> bool:
    return ir["target"] is None


def _prompt_templates(built: Built) -> list:
    """(name, Template) for every template the model reads (not the target)."""
    return [(k, t) for k, t in built.templates.items()
            if k != "target" and not (k == "template" and built.ir["templates"])]


def _needs_head(built: Built) -> list:
    ir = built.ir
    if ir["verbalizer"] is None and ir["target"] is None:
        return [Diagnostic.at(built.where.fallback, "missing-block",
                              f"task `{ir['name']}` has no `verbalizer` (nor a `target`)",
                              "a classification task maps labels to words: add "
                              '`verbalizer { "0": "bad"  "1": "good" }`; a generation task '
                              'gives `target: "{answer}"`')]
    if ir["template"] is None and not built.templates:
        return [Diagnostic.at(built.where.fallback, "missing-field",
                              f"task `{ir['name']}` has no `template`",
                              'add e.g. `template: "{sentence} It was [MASK]."`')]
    return []


def _masks(built: Built) -> list:
    out = []
    verbalizer = built.ir["verbalizer"]
    bound = verbalizer["mask"] if verbalizer else None
    for name, template in _prompt_templates(built):
        masks = [(p, s) for p, s in zip(template.pieces, template.spans) if p["type"] == "mask"]
        names = [p["name"] for p, _ in masks if p["name"]]
        if bound is not None:
            if bound not in names:
                out.append(Diagnostic.at(
                    built.where.value(("verbalizer", "mask")), "unknown-mask",
                    f"the verbalizer reads `[MASK:{bound}]`, which template `{name}` does not have",
                    suggestion_hint(bound, names, "named masks") if names else
                    f"name a mask in the template: `[MASK:{bound}]`"))
            continue
        if len(masks) == 1:
            continue
        if not masks:
            out.append(Diagnostic.at(template.span, "no-mask",
                                     f"template `{name}` has no [MASK] slot",
                                     "a task reads its prediction at exactly one `[MASK]`; add "
                                     "one where the label word goes"))
        else:
            out.append(Diagnostic.at(masks[1][1], "several-masks",
                                     f"template `{name}` has {len(masks)} [MASK] slots",
                                     "a task reads exactly one; name them (`[MASK:a]`) and bind "
                                     "the verbalizer with `mask: a`"))
    return out


def _data(built: Built, registry) -> list:
    """Template fields must be columns of every data file; labels must match the verbalizer."""
    out = []
    ir = built.ir
    data = ir["data"]
    fields = [(p, s) for _, t in built.templates.items() for p, s in zip(t.pieces, t.spans)
              if p["type"] == "field"]
    label_values: dict = {}
    for role in DATA_FILES:
        path = data.get(role)
        if not path or not os.path.isfile(path):
            continue
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
            columns = list(spec.read_header(path))
        except Exception as exc:        # a reader's DataError names file and line
            out.append(Diagnostic.at(span, "bad-data", f"cannot read `{shown}`: {exc}"))
            continue
        reported = set()
        for piece, piece_span in fields:
            name = piece["name"]
            if name in columns or (name, piece_span) in reported:
                continue
            reported.add((name, piece_span))
            if role == "unlabeled" and _is_target_field(built, piece_span):
                continue
            out.append(Diagnostic.at(
                piece_span, "unknown-column",
                f"template field `{{{name}}}` is not a column of {shown} "
                f"(columns: {', '.join(columns)})", suggestion_hint(name, columns)))
        if role in LABELLED and _classifying(ir):
            if data["label"] not in columns:
                out.append(Diagnostic.at(
                    built.where.value(("data", "label")), "unknown-column",
                    f"label column `{data['label']}` is not a column of {shown} "
                    f"(columns: {', '.join(columns)})", suggestion_hint(data["label"], columns)))
            elif ir["verbalizer"] and ir["verbalizer"]["labels"]:
                values = _label_values(spec, path, data["label"])
                if values is not None:
                    label_values[shown] = values
    out += _labels(built, label_values)
    return out


def _is_target_field(built: Built, span) -> bool:
    target = built.templates.get("target")
    return target is not None and span in target.spans


def _shown(built: Built, role: str) -> str:
    span = built.where.value(("data", role))
    from ..syntax.source import cached_source
    src = cached_source(span.file)
    text = src.text[span.start:span.end] if src else ""
    return text[1:-1] if len(text) >= 2 else built.ir["data"][role]


def _label_values(spec, path, column) -> list | None:
    try:
        table = spec.read(path)
        values = table.column(column)
    except Exception:
        return None                     # the reader's own error shows at run time
    seen = {}
    for value in values:
        seen.setdefault(str(value), None)
    return list(seen)


def _labels(built: Built, label_values: dict) -> list:
    labels = [entry["label"] for entry in built.ir["verbalizer"]["labels"]] \
        if built.ir["verbalizer"] else []
    out = []
    for shown, values in label_values.items():
        unknown = [label for label in labels if label not in values]
        uncovered = [v for v in values if v not in labels]
        if not unknown and not uncovered:
            continue
        first = labels.index(unknown[0]) if unknown else None
        span = (built.where.key(("verbalizer", "labels", first)) if first is not None
                else built.where.value(("verbalizer",)))
        ours = _listed(labels)
        theirs = _listed(sorted(values, key=_natural))
        if unknown:
            message = (f"verbalizer labels {{{ours}}} do not match the labels of {shown} "
                       f"{{{theirs}}}")
            hint = suggestion_hint(unknown[0], values) or "labels are the data's label values; " \
                "quote ones that are not names: `\"0\": \"bad\"`"
        else:
            message = (f"labels {_listed(sorted(uncovered, key=_natural))} of {shown} have no "
                       "label words in the verbalizer")
            hint = "add a line per label: `\"label\": \"word\"`"
        out.append(Diagnostic.at(span, "label-mismatch", message, hint))
        break                            # one file is enough to explain the mismatch
    return out


def _listed(values: list, most: int = 12) -> str:
    shown = ", ".join(values[:most])
    return shown + (f", … ({len(values)} in all)" if len(values) > most else "")


def _natural(value: str):
    return (0, int(value), "") if value.lstrip("-").isdigit() else (1, 0, value)


def _family(built: Built) -> list:
    ir = built.ir
    if not ir["model"] or not built.templates:
        return []
    config = model_config(ir["model"])
    family = family_of_config(config) if config else None
    if family is None:
        return [Diagnostic.at(built.where.value(("model",)), "unknown-family",
                              f"cannot read the configuration of model `{ir['model']}`; the "
                              "mask placement check was skipped",
                              "give a local folder with config.json, a cached hub id, or a "
                              "model source's name (see `promptc plugins`)", severity=WARNING)]
    out = []
    for name, template in _prompt_templates(built):
        why = mask_placement_error(family, template.pieces)
        if why:
            masks = [s for p, s in zip(template.pieces, template.spans) if p["type"] == "mask"]
            out.append(Diagnostic.at(masks[-1] if masks else template.span, "mask-placement",
                                     f"{why} (model `{ir['model']}` is {family})",
                                     "move [MASK] to the end of the template, or use a masked "
                                     "or seq2seq model"))
    return out


def _soft_without_training(built: Built, registry) -> list:
    methods = [registry.methods.get(m["name"]) for m in built.ir["methods"]]
    if not methods or any(m is None or m.trains for m in methods):
        return []
    for _, template in _prompt_templates(built):
        for piece, span in zip(template.pieces, template.spans):
            if piece["type"] == "soft":
                names = ", ".join(m.name for m in methods)
                return [Diagnostic.at(span, "untrained-soft", "soft tokens are never trained "
                                      f"under `{names}`", "they stay at their initial "
                                      "embeddings; use a method that trains, or write words",
                                      severity=WARNING)]
    return []


def _splits(built: Built, registry) -> list:
    ir = built.ir
    methods = [registry.methods.get(m["name"]) for m in ir["methods"]]
    if any(m is None for m in methods) or not methods:
        return []
    data = ir["data"]
    trains = [m.name for m in methods if m.trains]
    where = built.where.key(("data",))
    if trains and not data["train"]:
        return [Diagnostic.at(where, "missing-split", f"method `{trains[0]}` trains, but `data` "
                              "has no `train` file", 'add `train: "…"` to `data`')]
    if not trains and not (data["test"] or data["validation"]):
        return [Diagnostic.at(where, "missing-split", "nothing to evaluate: `data` has no "
                              "`test` or `validation` file", 'add `test: "…"` to `data`')]
    return []

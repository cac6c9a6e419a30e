"""`--set key=value`: values parsed as the language parses them, applied to a task's merged body
as if the file had said so, so every check runs on the result."""
from __future__ import annotations

from ..diagnostics import Diagnostic
from ..syntax import ast
from ..syntax.parse import parse_value
from ..syntax.source import Source, remember


def _override_field(key: str, text: str) -> tuple[ast.Field | None, list]:
    label = f"<--set {key}>"
    src = remember(Source(label, f"{key}={text}"))
    value_src = Source(label, " " * (len(key) + 1) + text)
    value, problems = parse_value(value_src.text, label)
    remember(src)
    key_span = src.span(0, len(key))
    if value is None:
        return None, problems
    return ast.Field(key.split(".")[-1], False, key_span, value, key_span, key), problems


def apply_overrides(body: list, overrides: dict, task: ast.Task) -> tuple[list, list]:
    """The body with each `dotted.key=value` set; diagnostics for keys that name nothing."""
    out, problems = list(body), []
    for key, text in (overrides or {}).items():
        parts = key.split(".")
        field, errors = _override_field(key, str(text))
        problems += errors
        if field is None:
            continue
        if len(parts) == 1:
            out = _set_field(out, field)
            continue
        name, kind = parts[0], (parts[1] if parts[0] in ("method", "methods") else None)
        name = "method" if name == "methods" else name
        want = 3 if name == "method" else 2
        if len(parts) != want:
            problems.append(Diagnostic.at(field.key_span, "unknown-field",
                                          f"`--set {key}` does not name a field",
                                          "use `block.field`, `method.NAME.option` or a "
                                          "top-level field such as `model`"))
            continue
        index = next((i for i, e in enumerate(out) if isinstance(e, ast.Block) and e.name == name
                      and (kind is None or e.kind == kind)), None)
        if index is None:
            if name == "method":
                problems.append(Diagnostic.at(field.key_span, "unknown-field",
                                              f"`--set {key}`: the task has no `method {kind}`"))
                continue
            if name == "verbalizer":     # a block made of one option would have no labels
                problems.append(Diagnostic.at(
                    field.key_span, "unknown-field", f"`--set {key}`: the task has no "
                    "`verbalizer`", "a generation task (one with `target`) has none; a "
                    "classification task writes its verbalizer in the file"))
                continue
            out.append(ast.Block(name, field.key_span, None, None, [field], field.key_span))
            continue
        block = out[index]
        out[index] = ast.Block(block.name, block.name_span, block.kind, block.kind_span,
                               _set_field(block.body, field), block.span, block.close_span)
    return out, problems


def _set_field(body: list, field: ast.Field) -> list:
    kept = [e for e in body if not (isinstance(e, ast.Field) and e.key == field.key
                                    and not e.quoted)]
    return kept + [field]

"""jsonschema errors turned into located diagnostics."""
from __future__ import annotations

import json

import jsonschema

from ..diagnostics import Diagnostic, suggestion_hint

def _is_integer(_checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema counts 3.0 (and 1e20) as an integer; the runtime would get a float where it
# counts, so an integer field takes integer literals only
Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))

JSON_TYPES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
              list: "a list", dict: "a block", type(None): "null"}


class Where:
    """Spans of the IR's parts: path tuple -> (key span, value span)."""

    def __init__(self, fallback):
        self.spans: dict = {}
        self.fallback = fallback          # span used when nothing closer is known

    def add(self, path: tuple, key_span, value_span=None):
        self.spans[path] = (key_span, value_span or key_span)

    def key(self, path: tuple):
        return self._find(path, 0)

    def value(self, path: tuple):
        return self._find(path, 1)

    def _find(self, path: tuple, which: int):
        path = tuple(path)
        while path:
            if path in self.spans:
                return self.spans[path][which]
            path = path[:-1]
        return self.fallback


def _dotted(path) -> str:
    return ".".join(str(p) for p in path if not isinstance(p, int))


def _name(value) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value).lower() \
        if isinstance(value, bool) else str(value)


NULL = {"type": "null"}


def _optional_unwrapped(errors):
    """A value of an optional part (`anyOf: [X, null]`, e.g. the `generate` block) that is not
    null is checked against X: its own errors, not "not valid under any of the given schemas"."""
    for err in errors:
        if err.validator == "anyOf" and err.instance is not None and NULL in err.validator_value:
            yield from _optional_unwrapped(
                sub for sub in err.context
                if err.validator_value[sub.relative_schema_path[0]] != NULL)
        else:
            yield err


def schema_diagnostics(instance, schema: dict, where: Where, prefix: tuple = (),
                       context: str = "") -> list[Diagnostic]:
    """Validate `instance` against `schema`; one diagnostic per problem, at its place.

    `prefix` is the path of `instance` inside the IR (for span look-up); `context` names the
    block in messages ("block `train`")."""
    out = []
    validator = Validator(schema)
    errors = _optional_unwrapped(validator.iter_errors(instance))
    for err in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = prefix + tuple(err.absolute_path)
        inside = context if not err.absolute_path else f"block `{_dotted(path[-1:]) or context}`"
        field = _dotted(path[len(prefix):]) or context
        kind = err.validator
        if kind == "additionalProperties" and isinstance(err.instance, dict):
            known = list((err.schema.get("properties") or {}).keys())
            for extra in err.instance:
                if extra in known:
                    continue
                out.append(Diagnostic.at(
                    where.key(path + (extra,)), "unknown-field",
                    f"unknown field `{extra}` in {inside if err.absolute_path else context}",
                    suggestion_hint(extra, known, "fields")))
            continue
        if kind == "required":
            missing = [r for r in err.validator_value if r not in err.instance]
            for name in missing:
                out.append(Diagnostic.at(where.key(path), "missing-field",
                                         f"{inside or 'this block'} needs the field `{name}`"))
            continue
        got = JSON_TYPES.get(type(err.instance), "a value")
        if kind == "type":
            wanted = err.validator_value if isinstance(err.validator_value, list) else \
                [err.validator_value]
            words = " or ".join({"object": "a block", "array": "a list", "null": "null",
                                 "integer": "an integer", "number": "a number",
                                 "string": "a string", "boolean": "true or false"}.get(w, w)
                                for w in wanted)
            if wanted == ["object"] and isinstance(err.schema, dict) and \
                    err.schema.get("maxProperties") == 1:     # one tag and its value
                words = 'a tagged value (`name "text"`)'
            message, hint = f"`{field}` must be {words}, not {got}", None
        elif kind == "enum":
            choices = [_name(c) for c in err.validator_value]
            message = f"`{field}` must be one of {', '.join(choices)}"
            hint = suggestion_hint(str(err.instance), [str(c) for c in err.validator_value])
        elif kind == "const":
            message, hint = f"`{field}` must be {_name(err.validator_value)}", None
        elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            words = {"minimum": "at least", "maximum": "at most",
                     "exclusiveMinimum": "greater than", "exclusiveMaximum": "less than"}[kind]
            message, hint = f"`{field}` must be {words} {err.validator_value}", None
        elif kind == "minLength" and err.validator_value == 1:
            items = " items" if path and isinstance(path[-1], int) else ""
            message, hint = f"`{field}`{items} must not be empty", None
        elif kind in ("minItems", "maxItems"):
            words = "at least" if kind == "minItems" else "at most"
            message, hint = f"`{field}` needs {words} {err.validator_value} item(s)", None
        else:
            message, hint = f"`{field}`: {err.message}", None
        out.append(Diagnostic.at(where.value(path), "invalid-value", message, hint))
    return out

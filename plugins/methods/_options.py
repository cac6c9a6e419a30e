"""Typed options for the built-in methods: a dataclass per method, built from the validated dict.

The front end validates each `method` block against the spec's JSON Schema and fills in the
schema's defaults; `typed(Options, dict)` then gives the method a typed object. Building from a
partial dict (tests, Python users) falls back to the dataclass defaults, which equal the schema's.
"""
from __future__ import annotations

import dataclasses

from promptdsl.errors import PromptdslError


class MethodOptionError(PromptdslError):
    """A method got an option it does not know, or a value it cannot use."""


def typed(options_type, options: dict | None, method: str):
    """`options_type(**options)`, with a clear error naming the method for unknown options."""
    options = dict(options or {})
    known = {f.name for f in dataclasses.fields(options_type)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise MethodOptionError(
            f"method `{method}`: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}")
    return options_type(**options)


def integer(minimum: int, default, nullable: bool = False, description: str = "") -> dict:
    schema = {"type": ["integer", "null"] if nullable else "integer", "minimum": minimum,
              "default": default}
    if description:
        schema["description"] = description
    return schema


def number(minimum: float, default, maximum: float | None = None, description: str = "") -> dict:
    schema = {"type": "number", "minimum": minimum, "default": default}
    if maximum is not None:
        schema["maximum"] = maximum
    if description:
        schema["description"] = description
    return schema


def boolean(default: bool, description: str = "") -> dict:
    schema = {"type": "boolean", "default": default}
    if description:
        schema["description"] = description
    return schema


def choice(values: list, default, description: str = "") -> dict:
    schema = {"type": "string", "enum": list(values), "default": default}
    if description:
        schema["description"] = description
    return schema

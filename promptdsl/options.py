"""Typed plugin options: one dataclass per plugin, its JSON Schema derived from it.

Write each option once, default included, as a dataclass field:

    @dataclass
    class LoraOptions:
        r: int = option(8, "rank of the update", minimum=1)
        target: list[str] | None = option(None, "modules to adapt", minItems=1)

`schema_of(LoraOptions)` is the closed JSON Schema `promptc check` validates the block against
(types from the annotations, `default`s from the dataclass); `typed(LoraOptions, options)` turns
the validated dict the runtime passes into the dataclass. Give the class to the spec
(`MethodSpec(options=LoraOptions)`) and the spec's `schema` is derived from it.
"""
from __future__ import annotations

import copy
import dataclasses
import types
import typing

from .errors import PromptdslError

KEY = "promptdsl"        # where `option` keeps its schema keywords in the field's metadata

# upper bounds for plugin options that size tensors: beyond them a value can only be a typo,
# and `check` should say so rather than the run trying to allocate it
MAX_SOFT_TOKENS = 4_096  # soft tokens / prefix vectors of one piece or method
MAX_WIDTH = 65_536       # hidden sizes, ranks, reductions, generated tokens
_SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string"}


class OptionError(PromptdslError):
    """A plugin got an option it does not declare, or its options class cannot be described."""


def option(default=dataclasses.MISSING, description: str = "", *, nullable: bool = False,
           refers: str | None = None, schema: dict | None = None, **keywords):
    """A dataclass field holding one option: its `default`, a `description`, and JSON Schema
    keywords for its value (`minimum=1`, `maximum=1`, `enum=[…]`, `oneOf=[…]`, `minItems=1`,
    `format="path"` …). `nullable=True` also allows null (as does a `… | None` annotation);
    `refers="templates"` is the `x-refers` marker (each value names a template of the task);
    `schema` is a raw fragment merged last, for keywords that are not Python names."""
    meta = {KEY: {"description": description, "nullable": nullable,
                  "schema": {**keywords, **({"x-refers": refers} if refers else {}),
                             **(schema or {})}}}
    if isinstance(default, (list, dict, set)):      # dataclasses refuse mutable defaults
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _strip_none(annotation) -> tuple:
    """(annotation without None, whether None was allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        rest = args[0] if len(args) == 1 else typing.Union[tuple(args)]
        return rest, len(args) < len(typing.get_args(annotation))
    return annotation, False


def _type_schema(annotation) -> dict:
    """What the annotation says of the value's shape ({} when it says nothing JSON can)."""
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(annotation))}
    if annotation is list or origin is list:
        args = typing.get_args(annotation)
        return {"type": "array", **({"items": _type_schema(args[0])} if args else {})}
    if annotation is dict or origin is dict:
        return {"type": "object"}
    return {}


def _allow_null(schema: dict) -> dict:
    if "oneOf" in schema or "anyOf" in schema:
        key = "oneOf" if "oneOf" in schema else "anyOf"
        return {**schema, key: [*schema[key], {"type": "null"}]}
    if "enum" in schema and None not in schema["enum"]:
        schema = {**schema, "enum": [*schema["enum"], None]}
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema = {**schema, "type": [*kinds, "null"] if "null" not in kinds else kinds}
    return schema


def field_schema(f: dataclasses.Field, annotation) -> dict:
    """The JSON Schema of one option: annotation → type, then `option`'s keywords, the default."""
    meta = f.metadata.get(KEY, {})
    annotation, optional = _strip_none(annotation)
    given = dict(meta.get("schema") or {})
    shape = {} if {"type", "oneOf", "anyOf"} & set(given) else _type_schema(annotation)
    if "enum" in given:
        shape.pop("enum", None)
    schema = {**shape, **given}
    if optional or meta.get("nullable"):
        schema = _allow_null(schema)
    if meta.get("description"):
        schema["description"] = meta["description"]
    default = _default(f)
    if default is not dataclasses.MISSING:
        schema["default"] = copy.deepcopy(default)
    return schema


def schema_of(options_class) -> dict:
    """The closed JSON Schema (unknown options are errors) of a dataclass of options, properties
    in field order, each with the dataclass default as its `default`."""
    if not (isinstance(options_class, type) and dataclasses.is_dataclass(options_class)):
        raise OptionError(f"options must be a dataclass, not {options_class!r}")
    hints = typing.get_type_hints(options_class)
    properties, required = {}, []
    for f in dataclasses.fields(options_class):
        properties[f.name] = field_schema(f, hints.get(f.name))
        if "default" not in properties[f.name]:
            required.append(f.name)
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def typed(options_class, options, plugin: str = ""):
    """`options_class(**options)` for the validated dict a spec's callable receives (an instance
    passes through). An option the class does not declare is an OptionError naming the plugin
    and the options it knows."""
    if isinstance(options, options_class):
        return options
    options = dict(options or {})
    known = [f.name for f in dataclasses.fields(options_class)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        who = f"{plugin}: " if plugin else ""
        raise OptionError(f"{who}unknown option{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)}; known: {', '.join(known) or 'none'}")
    try:
        return options_class(**options)
    except TypeError as exc:          # a declared option without default is missing
        raise OptionError(f"{plugin or options_class.__name__}: {exc}") from exc


@dataclasses.dataclass
class CalibrateOptions:
    """The `calibrate` option, which every verbalizer kind accepts."""
    calibrate: typing.Literal["none", "contextual", "prior"] = option(
        "none", "contextual: divide by the prediction on a content-free input (Zhao et al. "
                "2021); prior: divide by the mean prediction over the unlabelled data")


@dataclasses.dataclass
class VerbalizerOptions(CalibrateOptions):
    """The options every verbalizer kind that reads label words accepts (the base
    `promptdsl.model.Verbalizer` reads them). A kind with options of its own subclasses this
    dataclass and adds fields; a kind that scores whole words (generation) uses
    `CalibrateOptions`; a kind that reads only the mask's own position (hidden states,
    learned weights per word) uses `AtMaskOptions`."""
    multi_token: typing.Literal["mean", "first", "max", "sequence"] = option(
        "mean", "how a label word split into several tokens is scored: mean, first or max of "
                "its tokens at the mask; sequence: its full log-probability as the "
                "continuation of the prompt (causal and seq2seq models)")


@dataclasses.dataclass
class AtMaskOptions(CalibrateOptions):
    """`VerbalizerOptions` for a kind that reads the mask's position only (no `sequence`)."""
    multi_token: typing.Literal["mean", "first", "max"] = option(
        "mean", "how a label word split into several tokens is scored at the mask")


__all__ = ["option", "schema_of", "typed", "field_schema", "OptionError", "VerbalizerOptions",
           "CalibrateOptions", "AtMaskOptions"]

"""The Lark parsers, built once from the grammars shipped in `promptdsl.grammars`."""
from __future__ import annotations

import functools
import importlib.resources
import importlib.util

from lark import Lark

# Lark's strict mode (conflicts and terminal collisions are errors) needs `interegular`;
# tests check the grammar for conflicts either way.
STRICT = importlib.util.find_spec("interegular") is not None


def grammar_text(name: str) -> str:
    return importlib.resources.files("promptdsl.grammars").joinpath(name).read_text("utf-8")


@functools.lru_cache(maxsize=None)
def outer_parser(strict: bool = STRICT) -> Lark:
    return Lark(grammar_text("prompt.lark"), parser="lalr", lexer="contextual",
                start=["start", "value_seq"], propagate_positions=True,
                maybe_placeholders=False, strict=strict)


@functools.lru_cache(maxsize=None)
def template_parser(strict: bool = STRICT) -> Lark:
    return Lark(grammar_text("template.lark"), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=False, strict=strict)

"""The Lark parsers, built once from the grammars shipped in `promptdsl.grammars`.

Building an LALR parser from a grammar takes a few hundred milliseconds, most of an interactive
`check`; Lark's own cache keeps the built tables in promptdsl's cache folder (`cache_dir
("grammars")`), keyed by the grammar's hash, so later runs load them in milliseconds. Lark's
strict mode (terminal collisions are errors, via `interegular`) costs as much again: the tests
build the grammars strictly (tests/test_syntax_parse.py), the shipped parsers need not."""
from __future__ import annotations

import functools
import importlib.resources

import lark
from lark import Lark


def grammar_text(name: str) -> str:
    return importlib.resources.files("promptdsl.grammars").joinpath(name).read_text("utf-8")


def _cache_file(name: str, strict: bool) -> str | bool:
    """Where Lark keeps the built parser (False when the cache folder cannot be made: the
    parser is then built every time, nothing fails). A strict build is never cached: loading
    from the cache would skip the very checks it asks for."""
    from .. import cache_dir
    if strict:
        return False
    folder = cache_dir("grammars")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return str(folder / f"{name}-lark{lark.__version__}.cache")


def _parser(name: str, strict: bool, **options) -> Lark:
    return Lark(grammar_text(name), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=False, strict=strict,
                cache=_cache_file(name, strict), **options)


@functools.lru_cache(maxsize=None)
def outer_parser(strict: bool = False) -> Lark:
    return _parser("prompt.lark", strict, start=["start", "value_seq"])


@functools.lru_cache(maxsize=None)
def template_parser(strict: bool = False) -> Lark:
    return _parser("template.lark", strict)

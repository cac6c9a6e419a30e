"""Template field filters (`{field|keep|lower}`): pure string functions applied per value, in
file order. `keep` changes no text; it only makes the field unshortenable."""
from __future__ import annotations

import unicodedata

from ..errors import DataError


def _nopunct(value: str) -> str:
    """Drop trailing punctuation (any Unicode P* character) and the whitespace around it."""
    end = len(value.rstrip())
    while end and unicodedata.category(value[end - 1]).startswith("P"):
        end = len(value[:end - 1].rstrip())
    return value[:end]


FILTERS = {
    "keep": None,
    "lower": str.lower,
    "upper": str.upper,
    "capitalize": lambda v: v[:1].upper() + v[1:],  # str.capitalize would lower the rest
    "nopunct": _nopunct,
}


def apply_filters(values: list, filters) -> list:
    """`values` after every filter in `filters` (unknown filter names are a DataError)."""
    for name in filters:
        if name not in FILTERS:
            raise DataError(f"unknown template filter '{name}'; known: {', '.join(FILTERS)}")
        func = FILTERS[name]
        if func is not None:
            values = [func(v) for v in values]
    return values

"""Number literals -> Python numbers, refusing what no field could mean: integers beyond 64
bits (thousands of digits would also hit Python's int-conversion limit) and floats that
overflow to infinity or underflow to zero."""
from __future__ import annotations

import math
import re

MAX_INT = 2 ** 63 - 1
_DIGITS = len(str(MAX_INT))
_NONZERO_MANTISSA = re.compile(r"[1-9]")


def number(text: str) -> tuple[int | float | None, str | None]:
    """(value, None), or (None, why the literal is refused). `text` matches the grammar's
    NUMBER (or a template's `<soft*N>` count)."""
    if not any(c in text for c in ".eE"):
        digits = text.lstrip("+-")
        if len(digits) > _DIGITS or int(digits) > MAX_INT:
            return None, f"integer `{_shown(text)}` is too large (at most {MAX_INT})"
        return int(text), None
    value = float(text)
    if not math.isfinite(value):
        return None, f"`{_shown(text)}` is too large for a number (it would be infinite)"
    mantissa = re.split(r"[eE]", text)[0]
    if value == 0 and _NONZERO_MANTISSA.search(mantissa):
        return None, f"`{_shown(text)}` is too small for a number (it would be 0)"
    return value, None


def _shown(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}…{text[-4:]} ({len(text)} characters)"

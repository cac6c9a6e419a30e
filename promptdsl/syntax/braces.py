"""Find unclosed `{` and stray `}` outside strings and comments, using indentation to guess which
`{` a `}` closes (as rustc does), so "block never closed" points at the block that was left open."""
from __future__ import annotations

import re

_STRING = re.compile(r'"""([^"\\]|\\[\s\S]|"(?!""))*("""|$)|"([^"\\\n]|\\.)*("|$)|'
                     r"'([^'\\\n]|\\.)*('|$)|#[^\n]*", re.M)


def _indent(text: str, offset: int) -> tuple[int, bool]:
    """Indentation of the line holding `offset`, and whether `offset` is its first non-blank."""
    start = text.rfind("\n", 0, offset) + 1
    prefix = text[start:offset]
    stripped = len(prefix) - len(prefix.lstrip(" \t"))
    return stripped, not prefix.strip()


def _brackets(text: str, chars: str):
    """(character, offset) of each of `chars` outside strings and comments."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'#":
            m = _STRING.match(text, i)
            i = m.end() if m and m.end() > i else i + 1
            continue
        if ch in chars:
            yield ch, i
        i += 1


def too_deep(text: str, limit: int) -> int | None:
    """The offset of the first `{` or `[` nested deeper than `limit`, or None."""
    depth = 0
    for ch, pos in _brackets(text, "{}[]"):
        if ch in "{[":
            depth += 1
            if depth > limit:
                return pos
        else:
            depth = max(0, depth - 1)
    return None


def unbalanced(text: str) -> tuple[list[int], list[int]]:
    """(offsets of unclosed `{`, offsets of unmatched `}`)."""
    stack, unclosed, unmatched = [], [], []
    for ch, pos in _brackets(text, "{}"):
        if ch == "{":
            stack.append(pos)
            continue
        if not stack:
            unmatched.append(pos)
            continue
        indent, first = _indent(text, pos)
        if first:
            while len(stack) > 1 and _indent(text, stack[-1])[0] > indent:
                unclosed.append(stack.pop())
        stack.pop()
    return sorted(unclosed + stack), unmatched


def comments(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of every `#` comment outside strings."""
    found = []
    for m in _STRING.finditer(text):
        if m.group(0).startswith("#"):
            found.append((m.start(), m.end()))
    return found

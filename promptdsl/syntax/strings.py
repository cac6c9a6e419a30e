"""Decoding string literals: quotes, escapes, and where each decoded character came from."""
from __future__ import annotations

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
HEX = set("0123456789abcdefABCDEF")


def decode(raw: str, start: int):
    """Decode the literal `raw` found at source offset `start`.

    Returns (value, offsets, problems): offsets[i] is the source offset of value[i] (one extra
    entry for the closing quote), problems are (start, end, message, hint) for bad escapes.
    """
    if raw.startswith('"""'):
        body, base = raw[3:-3], start + 3
        if body.startswith("\n"):          # a newline right after the opening quotes is dropped
            body, base = body[1:], base + 1
    else:
        body, base = raw[1:-1], start + 1
    out, offsets, problems = [], [], []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            offsets.append(base + i)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in ESCAPES and nxt:
            out.append(ESCAPES[nxt])
            offsets.append(base + i)
            i += 2
        elif nxt == "u" and _hex4(body, i + 2) is not None:
            code, width = _code_point(body, i)
            if code is None:
                problems.append((base + i, base + i + 6,
                                 f"`{body[i:i + 6]}` is half of a surrogate pair",
                                 "write the character itself, or both halves: \\ud83d\\ude00"))
                code = 0xFFFD
            out.append(chr(code))
            offsets.append(base + i)
            i += width
        else:
            shown = "\\" + nxt if nxt and nxt != "\n" else "\\"
            problems.append((base + i, base + i + 1 + (1 if nxt else 0),
                             f"unknown escape `{shown}` in a string",
                             "escapes are \\n \\t \\r \\\" \\' \\\\ and \\uXXXX; write \\\\ for a "
                             "backslash"))
            out.append(nxt)
            offsets.append(base + i)
            i += 2 if nxt else 1
    offsets.append(start + len(raw) - (3 if raw.startswith('"""') else 1))
    return "".join(out), offsets, problems


def _hex4(body: str, at: int) -> int | None:
    digits = body[at:at + 4]
    if len(digits) == 4 and all(c in HEX for c in digits):
        return int(digits, 16)
    return None


def _code_point(body: str, i: int):
    """The code point of the `\\uXXXX` escape at i (joining a UTF-16 surrogate pair) and the
    escape's width; None for a lone surrogate, which no text file can hold."""
    code = _hex4(body, i + 2)
    if 0xD800 <= code <= 0xDBFF and body[i + 6:i + 8] == "\\u":
        low = _hex4(body, i + 8)
        if low is not None and 0xDC00 <= low <= 0xDFFF:
            return 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), 12
    if 0xD800 <= code <= 0xDFFF:
        return None, 6
    return code, 6

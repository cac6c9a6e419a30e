"""Templates: the inner language of `template`, `templates` and `target` strings.

Parsed with grammars/template.lark over the decoded string; every position maps back to the
file through the string's per-character offsets, so diagnostics point into the literal.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from ..data.filters import FILTERS as FILTER_FUNCTIONS
from ..diagnostics import WARNING, Diagnostic, suggestion_hint
from . import ast
from .grammar import template_parser
from .numbers import number
from .source import Source

FILTERS = tuple(FILTER_FUNCTIONS)          # the one table of filters is promptdsl.data.filters
SPECIALS = {"sep": "SEP", "cls": "CLS"}
_OPENERS = re.compile(r"\{\{|\}\}|\[MASK|<soft|[{}\]>]")
_NEAR_BRACKET = re.compile(r"\[([A-Za-z]{2,8})(:[^\]\s]*)?\]")
_NEAR_ANGLE = re.compile(r"<([A-Za-z]{3,6})\b[^<>\n]*>")


@dataclass
class Template:
    text: str
    pieces: list                          # IR pieces (docs/internals.md "Template pieces")
    spans: list = field(default_factory=list)  # one Span per piece
    span: ast.Span | None = None          # the whole string literal

    def to_ir(self) -> dict:
        return {"text": self.text, "pieces": self.pieces}


def parse_template(literal: ast.Str, src: Source) -> tuple[Template | None, list[Diagnostic]]:
    text, offsets = literal.value, literal.offsets

    def span(i: int, j: int) -> ast.Span:
        i = max(0, min(i, len(text)))
        j = max(i, min(j, len(text)))
        start = offsets[i]
        end = offsets[j] if j < len(offsets) else offsets[-1]
        return src.span(start, max(start + 1, end) if j > i else start)

    try:
        tree = template_parser().parse(text)
    except UnexpectedInput as err:
        return None, [_template_error(text, err, span)]
    diagnostics: list[Diagnostic] = []
    pieces, spans = [], []
    for node in tree.children:
        piece = _piece(node, span, diagnostics)
        where = span(node.meta.start_pos, node.meta.end_pos)
        if piece["type"] == "text" and pieces and pieces[-1]["type"] == "text":
            pieces[-1]["text"] += piece["text"]
            continue
        pieces.append(piece)
        spans.append(where)
        if piece["type"] == "text":
            diagnostics.extend(_near_misses(node.children[0], span))
    if any(d.code == "bad-number" for d in diagnostics):
        return None, diagnostics            # a piece without its count: no template
    diagnostics.extend(_shared_soft_mismatches(pieces, spans))
    return Template(text, pieces, spans, literal.span), diagnostics


def template_text(pieces: list) -> str:
    """The template source of `pieces`: what parses back to them."""
    return "".join(piece_text(p) for p in pieces)


def piece_text(piece: dict) -> str:
    """One piece as a template writes it (literal braces doubled)."""
    kind = piece["type"]
    if kind == "text":
        return piece["text"].replace("{", "{{").replace("}", "}}")
    if kind == "field":
        return "{" + "|".join([piece["name"], *piece.get("filters", [])]) + "}"
    if kind == "soft":
        return soft_text(piece)
    if kind == "mask":
        return f"[MASK:{piece['name']}]" if piece.get("name") else "[MASK]"
    return f"[{SPECIALS[piece['token']]}]"


def soft_text(piece: dict) -> str:
    """A soft piece as a template writes it."""
    name = f":{piece['name']}" if piece.get("name") else ""
    if piece.get("init") is not None:
        quote = '"' if "'" in piece["init"] else "'"
        return f"<soft{name} {quote}{piece['init']}{quote}>"
    return f"<soft{name}*{piece['count']}>" if piece.get("count", 1) != 1 else f"<soft{name}>"


def _shared_soft_mismatches(pieces: list, spans: list) -> list[Diagnostic]:
    """Every use of one soft-token name stands for the same vectors, so it is written alike."""
    first: dict = {}
    out = []
    for piece, where in zip(pieces, spans):
        if piece["type"] != "soft" or not piece["name"]:
            continue
        seen = first.setdefault(piece["name"], (piece, where))
        other, at = seen
        if (other["count"], other["init"]) != (piece["count"], piece["init"]):
            out.append(Diagnostic.at(
                where, "soft-mismatch", f"`{soft_text(piece)}` differs from "
                f"`{soft_text(other)}` at {at.line}:{at.column}: one name is one set of soft "
                "tokens",
                f"write every use of `{piece['name']}` as `{soft_text(other)}`, or give this one "
                "another name"))
    return out


def _piece(node: Tree, span, diagnostics: list) -> dict:
    kind = node.data
    if kind == "text":
        return {"type": "text", "text": str(node.children[0]).replace("{{", "{").replace("}}", "}")}
    if kind == "field":
        name_tok = node.children[0].children[0]
        name = str(name_tok)
        if name_tok.type == "QUOTED":
            name = name[1:-1]
        filters = []
        for flt in node.children[1:]:
            tok = flt.children[0]
            if str(tok) not in FILTERS:
                diagnostics.append(Diagnostic.at(
                    span(tok.start_pos, tok.end_pos), "unknown-filter",
                    f"unknown template filter `{tok}`",
                    suggestion_hint(str(tok), FILTERS, "filters")))
            filters.append(str(tok))
        return {"type": "field", "name": name, "filters": filters,
                "shortenable": "keep" not in filters}
    if kind == "mask":
        name = str(node.children[0].children[0]) if node.children else None
        return {"type": "mask", "name": name}
    if kind in SPECIALS:
        return {"type": "special", "token": kind}
    if kind == "soft":
        count, init, name = 1, None, None
        for arg in node.children:
            if arg.data == "soft_name":
                name = str(arg.children[0])
            elif arg.data == "soft_count":
                tok = arg.children[0]
                count, problem = number(str(tok))
                if problem:
                    diagnostics.append(Diagnostic.at(span(tok.start_pos, tok.end_pos),
                                                     "bad-number", problem,
                                                     "`<soft*N>` takes a count of soft tokens"))
            else:
                count, init = None, str(arg.children[-1])[1:-1]
        return {"type": "soft", "count": count, "init": init, "name": name}
    raise AssertionError(f"unknown template node {kind}")  # grammar and builder disagree


def _template_error(text: str, err: UnexpectedInput, span) -> Diagnostic:
    pos = getattr(err, "pos_in_stream", None)
    token = getattr(err, "token", None)
    if token is not None and token.type == "$END":
        pos = len(text)
    elif pos is None:
        pos = token.start_pos if token is not None and token.start_pos is not None else len(text)
    opened = None
    for m in _OPENERS.finditer(text):
        if m.start() > pos:
            break
        tok = m.group(0)
        if opened is None and tok in ("{", "[MASK", "<soft"):
            opened = m.start()
        elif opened is not None and m.start() < pos and tok in ("}", "]", ">"):
            opened = None
    if opened is None:
        if pos < len(text) and text[pos] == "}":
            return Diagnostic.at(span(pos, pos + 1), "template-syntax",
                                 "unmatched `}` in template", "write `}}` for a literal `}`")
        return Diagnostic.at(span(pos, pos + 1), "template-syntax",
                             "unexpected text in template")
    close = re.compile(r"[}\]>]").search(text, opened)
    end = close.end() if close else len(text)
    shown = text[opened:end]
    where = span(opened, end)
    if text.startswith("[MASK", opened):
        return Diagnostic.at(where, "bad-mask", f"malformed mask `{shown}`",
                             "write `[MASK]`, or `[MASK:name]` to name one of several masks")
    if text.startswith("<soft", opened):
        return Diagnostic.at(where, "bad-soft", f"malformed soft token `{shown}`",
                             "write `<soft>`, `<soft*N>` or `<soft 'init text'>`, named to share "
                             "one soft token: `<soft:name>`, `<soft:name*N>` (`*N` and an init "
                             "text do not combine)")
    return Diagnostic.at(where, "bad-field", f"malformed template field `{shown}`",
                         "a field is `{name}` or `{name|filter}`; quote a column that is not a "
                         "name: `{'review text'}`; write `{{` for a literal `{`")


def _near_misses(tok: Token, span) -> list[Diagnostic]:
    """`[mask]`, `[MAKS]`, `<sfot>`: plain text that was probably meant as a slot."""
    out = []
    base = tok.start_pos
    for m in _NEAR_BRACKET.finditer(str(tok)):
        word = m.group(1)
        best = difflib.get_close_matches(word.upper(), ["MASK", "SEP", "CLS"], n=1, cutoff=0.7)
        if best:
            meant = f"[{best[0]}{m.group(2) or ''}]"
            out.append(Diagnostic.at(span(base + m.start(), base + m.end()), "near-miss",
                                     f"`{m.group(0)}` is plain text, not a slot",
                                     f"did you mean `{meant}`?", severity=WARNING))
    for m in _NEAR_ANGLE.finditer(str(tok)):
        if difflib.get_close_matches(m.group(1).lower(), ["soft"], n=1, cutoff=0.7):
            out.append(Diagnostic.at(span(base + m.start(), base + m.end()), "near-miss",
                                     f"`{m.group(0)}` is plain text, not a soft token",
                                     "did you mean `<soft>`?", severity=WARNING))
    return out

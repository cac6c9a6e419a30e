"""Parse .prompt text into the typed AST (`ast.File`), with located syntax diagnostics.

A syntax error does not stop the file: each top-level item (`import`, `task`, `sweep` at the
start of a line) is parsed again on its own, so an error in one task hides nothing in another.
"""
from __future__ import annotations

import difflib
import re

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from ..diagnostics import Diagnostic
from . import ast
from .braces import comments, unbalanced
from .grammar import outer_parser
from .source import Source, read_source, remember
from .strings import decode

TOP_LEVEL = re.compile(r"^(import|task|sweep)\b", re.M)

# what each terminal is called in an error message
TERMINAL_NAMES = {
    "KEY": "a field `name: value`", "QKEY": 'a quoted key `"label": …`',
    "BLOCK_HEAD": "a block `name { … }`", "RBRACE": "`}`", "LBRACE": "`{`", "COLON": "`:`",
    "COMMA": "`,`", "LSQB": "`[`", "RSQB": "`]`", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a string", "SQ_STRING": "a string", "TRIPLE_STRING": "a string",
    "TRUE": "`true`", "FALSE": "`false`", "NULL": "`null`", "TAG": "a tagged value",
    "IMPORT": "`import`", "TASK": "`task`", "SWEEP": "`sweep`", "EXTENDS": "`extends`",
    "$END": "the end of the file",
}


class ParseResult:
    def __init__(self, file: ast.File, diagnostics: list[Diagnostic], source: Source):
        self.file, self.diagnostics, self.source = file, diagnostics, source

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def parse_path(path) -> ParseResult:
    return parse_source(read_source(path))


def parse_text(text: str, path: str = "<text>") -> ParseResult:
    return parse_source(remember(Source(path, text)))


def parse_source(src: Source) -> ParseResult:
    diagnostics: list[Diagnostic] = []
    try:
        tree = outer_parser().parse(src.text, start="start")
        items = _Builder(src, diagnostics).items(tree)
    except UnexpectedInput:
        items = _parse_by_item(src, diagnostics)
    file = ast.File(src.path, items, [ast.Comment(src.text[a:b], src.span(a, b))
                                       for a, b in comments(src.text)])
    return ParseResult(file, diagnostics, src)


def parse_value(text: str, label: str):
    """Parse a value as it would follow `key:` (used by `--set key=value`)."""
    src = remember(Source(label, text))
    diagnostics: list[Diagnostic] = []
    try:
        tree = outer_parser().parse(src.text, start="value_seq")
    except UnexpectedInput as err:
        diagnostics.append(_syntax_error(src, err, src.text))
        return None, diagnostics
    return _Builder(src, diagnostics).value_seq(tree), diagnostics


def _parse_by_item(src: Source, diagnostics: list) -> list:
    """Parse each top-level item alone (other text blanked out, so positions stay). Within an
    item, a line with a syntax error is blanked and the item parsed again, so several syntax
    errors show at once; an item with syntax errors gives no AST (no cascade of errors)."""
    starts = [m.start() for m in TOP_LEVEL.finditer(src.text)]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    bounds = list(zip(starts, starts[1:] + [len(src.text)]))
    items = []
    for begin, end in bounds:
        chunk = _blank(src.text[:begin]) + src.text[begin:end] + _blank(src.text[end:])
        failed = False
        for _ in range(MAX_RECOVERIES):
            try:
                tree = outer_parser().parse(chunk, start="start")
            except UnexpectedInput as err:
                diag = _syntax_error(src, err, chunk, begin, end)
                if diag in diagnostics:
                    break
                diagnostics.append(diag)
                failed = True
                chunk = _without_line(chunk, diag, begin, end)
                if chunk is None:
                    break
                continue
            if not failed:
                items.extend(_Builder(src, diagnostics).items(tree))
            break
    return items


MAX_RECOVERIES = 20


def _without_line(chunk: str, diag: Diagnostic, begin: int, end: int) -> str | None:
    """The chunk with the error's line blanked, or None when that cannot help (a brace
    problem, or a line that opens or closes a block)."""
    if diag.code in ("unclosed-brace", "unmatched-brace"):
        return None
    line_start = 0
    for _ in range(diag.line - 1):
        line_start = chunk.find("\n", line_start) + 1
        if line_start == 0:
            return None
    line_end = chunk.find("\n", line_start)
    line_end = len(chunk) if line_end < 0 else line_end
    if not (begin <= line_start < end) or not chunk[line_start:line_end].strip():
        return None
    unclosed, unmatched = unbalanced(chunk[line_start:line_end])
    if unclosed or unmatched or line_start == begin:
        return None
    return chunk[:line_start] + _blank(chunk[line_start:line_end]) + chunk[line_end:]


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def _syntax_error(src: Source, err: UnexpectedInput, text: str, begin: int = 0,
                  end: int | None = None) -> Diagnostic:
    end = len(text) if end is None else end
    unclosed, unmatched = unbalanced(text[:end] + " " * (len(text) - end))
    pos = getattr(err, "pos_in_stream", None)
    if pos is None:
        token = getattr(err, "token", None)
        pos = getattr(token, "start_pos", None)
    if pos is None or pos < 0:
        pos = len(text.rstrip())
    # an unbalanced brace explains any error after it better than the parser can
    if unclosed and (isinstance(err, UnexpectedEOF) or _at_end(err) or pos > unclosed[0]):
        at = unclosed[-1] if _at_end(err) or isinstance(err, UnexpectedEOF) else unclosed[0]
        line_start = text.rfind("\n", 0, at) + 1
        opener = text[line_start:at].strip() or "block"
        return Diagnostic.at(src.span(at, at + 1), "unclosed-brace",
                             f"this `{{` of `{opener}` is never closed",
                             f"add `}}` to close `{opener} {{`; blocks close in the order they "
                             "open")
    if unmatched and unmatched[0] <= pos:
        at = unmatched[0]
        return Diagnostic.at(src.span(at, at + 1), "unmatched-brace",
                             "this `}` closes nothing", "remove it, or open a block before it")
    if isinstance(err, UnexpectedCharacters):
        return _bad_character(src, text, pos)
    token = getattr(err, "token", None)
    expected = sorted({TERMINAL_NAMES.get(t, f"`{t}`") for t in (err.expected or ())
                       if not t.startswith("__")})
    if token is None or token.type == "$END":
        return Diagnostic.at(src.span(pos, pos), "syntax", "unexpected end of file",
                             "expected " + " or ".join(expected) if expected else None)
    start, stop = token.start_pos, token.end_pos
    if token.type == "COMMA" and text[:start].rstrip().endswith(","):
        return Diagnostic.at(src.span(start, stop), "double-comma", "two commas in a row",
                             "remove one `,`: a comma separates values or ends a field")
    message = f"unexpected `{token.value}`"
    hint = ("expected " + ", ".join(expected)) if expected else None
    rest = text[stop:stop + 40]
    if token.type in ("TAG", "NAME", "BLOCK_HEAD") and "a field `name: value`" in expected:
        after = rest.lstrip(" \t\n")
        if after.startswith("{") or re.match(r"[A-Za-z_]\w*\s*\{", after):
            message = f"the `{{` of block `{token.value}` must stand on the same line as its name"
            hint = "write the block's name, kind and `{` on one line: `name kind {`"
        elif not rest.lstrip(" \t").startswith(":"):
            message = f"`{token.value}` is not followed by `:`"
            hint = f"write `{token.value}: value` (the key and its `:` stand on one line)"
    elif "`task`" in expected:
        close = difflib.get_close_matches(str(token.value), ["import", "task", "sweep"], n=1)
        if close:
            hint = f"did you mean `{close[0]}`? a file holds `import`, `task` and `sweep` items"
    elif token.type == "LBRACE" and "a string" in expected:
        hint = ('text with braces is a quoted string: `template: "{sentence} …"`; a block is '
                "written `name { … }`, without `:`")
    elif rest.lstrip(" \t").startswith(":") and "a field `name: value`" in expected:
        hint = f'a key that is not a name is quoted: `"{token.value}": …`'
    return Diagnostic.at(src.span(start, stop), "syntax", message, hint)


def _at_end(err) -> bool:
    token = getattr(err, "token", None)
    return token is not None and token.type == "$END"


def _bad_character(src: Source, text: str, pos: int) -> Diagnostic:
    ch = text[pos] if pos < len(text) else ""
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if ch in "\"'":
        return Diagnostic.at(src.span(pos, line_end), "unterminated-string",
                             "this string is not closed on its line",
                             f"a {ch}…{ch} string ends on its line: write \\n for a line break, "
                             'or use """…""" for text across lines')
    word = re.match(r"[A-Za-z0-9_.\-/:]+", text[pos:])
    if word and ch == "-" or (word and re.search(r"[-/]", word.group(0))):
        start = pos
        while start > 0 and re.match(r"[A-Za-z0-9_]", text[start - 1]):
            start -= 1
        whole = re.match(r"[A-Za-z0-9_.\-/:]+", text[start:]).group(0)
        return Diagnostic.at(src.span(start, start + len(whole)), "syntax",
                             f"`{whole}` is not a name",
                             f'names are letters, digits and `_`; quote other text: "{whole}"')
    shown = repr(ch)[1:-1] if ch else "end of file"
    return Diagnostic.at(src.span(pos, pos + 1), "syntax", f"unexpected character `{shown}`")


class _Builder:
    """Lark tree -> AST, decoding strings (bad escapes become diagnostics)."""

    def __init__(self, src: Source, diagnostics: list):
        self.src, self.diagnostics = src, diagnostics

    def span(self, node) -> ast.Span:
        if isinstance(node, Token):
            return self.src.span(node.start_pos, node.end_pos)
        return self.src.span(node.meta.start_pos, node.meta.end_pos)

    def items(self, tree: Tree) -> list:
        out = []
        for child in tree.children:
            out.append(getattr(self, child.data)(child))
        return out

    def import_stmt(self, tree):
        return ast.Import(self.string(tree.children[0]), self.span(tree))

    def task(self, tree):
        name, rest = tree.children[0], tree.children[1:]
        parent = parent_span = None
        if rest and isinstance(rest[0], Tree) and rest[0].data == "extends":
            parent_tok = rest[0].children[0]
            parent, parent_span = str(parent_tok), self.span(parent_tok)
            rest = rest[1:]
        body = rest[0]
        return ast.Task(str(name), self.span(name), parent, parent_span, self.body(body),
                        self.span(tree), self._close(tree))

    def sweep(self, tree):
        name, body = tree.children
        return ast.Sweep(str(name), self.span(name), self.body(body), self.span(tree),
                         self._close(tree))

    def _close(self, tree) -> ast.Span:
        end = self.src.text.rfind("}", tree.meta.start_pos, tree.meta.end_pos)
        return self.src.span(end, end + 1)

    def body(self, tree) -> list:
        return [self.field(c) if c.data == "field" else self.block(c) for c in tree.children]

    def block(self, tree):
        head, rest = tree.children[0], tree.children[1:]
        kind = kind_span = None
        if isinstance(rest[0], Token):
            kind, kind_span = str(rest[0]), self.span(rest[0])
            rest = rest[1:]
        return ast.Block(str(head), self.span(head), kind, kind_span, self.body(rest[0]),
                         self.span(tree), self._close(tree))

    def field(self, tree):
        key_tree, values = tree.children
        tok = key_tree.children[0]
        if tok.type == "QKEY":
            key = self.string_token(tok).value
        else:
            key = str(tok)
        return ast.Field(key, tok.type == "QKEY", self.span(tok), self.value_seq(values),
                         self.span(tree), str(tok))

    def value_seq(self, tree):
        items = []
        while True:
            items.append(self.value(tree.children[0]))
            nested = [c for c in tree.children[1:] if isinstance(c, Tree)]
            if not nested:
                break
            tree = nested[0]
        if len(items) == 1:
            return items[0]
        first, last = items[0].span, items[-1].span
        return ast.ListV(items, self.src.span(first.start, last.end), implicit=True)

    def value(self, node):
        kind = node.data
        if kind == "string":
            return self.string(node)
        tok = node.children[0] if node.children else None
        if kind == "number":
            return ast.Num(_number(str(tok)), str(tok), self.span(tok))
        if kind in ("true", "false"):
            return ast.Bool(kind == "true", self.span(tok))
        if kind == "null":
            return ast.Null(self.span(tok))
        if kind == "ident":
            return ast.Ident(str(tok), self.span(tok))
        if kind == "tagged":
            return ast.Tagged(str(tok), self.value(node.children[1]), self.span(node))
        if kind == "list":
            items = []
            if node.children:
                items = [self.value(v) for v in node.children[0].children]
            return ast.ListV(items, self.span(node))
        raise AssertionError(f"unknown value node {kind}")  # grammar and builder disagree

    def string(self, tree) -> ast.Str:
        return self.string_token(tree.children[0])

    def string_token(self, tok: Token) -> ast.Str:
        raw = str(tok)
        if tok.type == "QKEY":
            raw = raw.rstrip()
        value, offsets, problems = decode(raw, tok.start_pos)
        for start, end, message, hint in problems:
            self.diagnostics.append(Diagnostic.at(self.src.span(start, end), "bad-escape",
                                                  message, hint))
        return ast.Str(value, raw, self.src.span(tok.start_pos, tok.start_pos + len(raw)),
                       offsets)


def _number(text: str):
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)

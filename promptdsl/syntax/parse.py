"""Parse .prompt text into the typed AST (`ast.File`), with located syntax diagnostics.

A syntax error does not stop the file: each top-level item (`import`, `task`, `sweep` at the
start of a line) is parsed again on its own, so an error in one task hides nothing in another.
The work stays linear in the file's size: each item is parsed as its own text, a bounded number
of times, and the file stops after MAX_SYNTAX_ERRORS errors.
"""
from __future__ import annotations

import difflib
import re

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from ..diagnostics import Diagnostic
from . import ast
from .braces import comments, too_deep, unbalanced
from .grammar import outer_parser
from .numbers import number
from .source import NotUtf8, Source, read_source, remember
from .strings import decode

TOP_LEVEL = re.compile(r"^(import|task|sweep)\b", re.M)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# nothing the language writes nests deeper than a few levels; the builder and the checks recurse
MAX_NESTING = 32
MAX_RECOVERIES = 20           # parses of one item, each with one more bad line blanked
MAX_SYNTAX_ERRORS = 50        # per file; then one `too-many-errors` and the rest is not parsed

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
    """Parse a file; one that is not UTF-8 gives a diagnostic at its first bad byte."""
    try:
        return parse_source(read_source(path))
    except NotUtf8 as err:
        return ParseResult(ast.File(err.source.path, []), [err.diagnostic()], err.source)


def parse_text(text: str, path: str = "<text>") -> ParseResult:
    return parse_source(remember(Source(path, text)))


def parse_source(src: Source) -> ParseResult:
    diagnostics = _lone_surrogates(src)
    items = None
    if too_deep(src.text, MAX_NESTING) is None:     # else each item is checked apart below
        try:
            items = _Builder(src, diagnostics).items(outer_parser().parse(src.text, start="start"))
        except UnexpectedInput:
            pass
    if items is None:
        items = _parse_by_item(src, diagnostics)
    file = ast.File(src.path, items, [ast.Comment(src.text[a:b], src.span(a, b))
                                       for a, b in comments(src.text)])
    return ParseResult(file, diagnostics, src)


def parse_value(text: str, label: str):
    """Parse a value as it would follow `key:` (used by `--set key=value`)."""
    src = remember(Source(label, text))
    diagnostics = _lone_surrogates(src)
    deep = _too_deep(src, src.text)
    if deep or diagnostics:
        return None, diagnostics + deep
    try:
        tree = outer_parser().parse(src.text, start="value_seq")
    except UnexpectedInput as err:
        diagnostics.append(_syntax_error(src, err, src.text))
        return None, diagnostics
    return _Builder(src, diagnostics).value_seq(tree), diagnostics


def _lone_surrogates(src: Source) -> list[Diagnostic]:
    """Characters no file can hold: a lone surrogate comes from bytes that are not UTF-8 (e.g.
    on the command line). Each is reported and becomes U+FFFD, so the text still prints."""
    found = []
    for m in LONE_SURROGATE.finditer(src.text):
        found.append(Diagnostic.at(src.span(m.start(), m.end()), "encoding",
                                   f"`\\u{ord(m.group()):04x}` is not a character (a lone "
                                   "surrogate: bytes that are not UTF-8 text?)",
                                   "write the text as UTF-8"))
        if len(found) >= MAX_SYNTAX_ERRORS:
            break
    if found:
        src.text = LONE_SURROGATE.sub("\ufffd", src.text)
    return found


def _too_deep(src: Source, text: str, base: int = 0) -> list[Diagnostic]:
    """Nesting the AST builder and the checks (which recurse) must not walk."""
    deep = too_deep(text, MAX_NESTING)
    if deep is None:
        return []
    return [Diagnostic.at(src.span(base + deep, base + deep + 1), "too-deep",
                          f"brackets nested more than {MAX_NESTING} deep",
                          "blocks and lists nest a few levels at most; look for brackets "
                          "that are never closed")]


def _parse_by_item(src: Source, diagnostics: list) -> list:
    """Parse each top-level item alone (as its own text; positions shifted back). Within an
    item, a line with a syntax error is blanked and the item parsed again, so several syntax
    errors show at once; an item with syntax errors gives no AST (no cascade of errors)."""
    starts = [m.start() for m in TOP_LEVEL.finditer(src.text)]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    bounds = list(zip(starts, starts[1:] + [len(src.text)]))
    items, seen = [], set()
    for begin, end in bounds:
        chunk = src.text[begin:end]
        deep = _too_deep(src, chunk, begin)
        if deep:
            diagnostics.extend(deep)
            seen.update(deep)
            continue
        failed = False
        for _ in range(MAX_RECOVERIES):
            try:
                tree = outer_parser().parse(chunk, start="start")
            except UnexpectedInput as err:
                diag = _syntax_error(src, err, chunk, begin)
                if diag in seen:
                    break
                seen.add(diag)
                diagnostics.append(diag)
                failed = True
                if len(seen) >= MAX_SYNTAX_ERRORS:
                    diagnostics.append(Diagnostic.at(
                        src.span(_offset(src, diag), _offset(src, diag)),
                        "too-many-errors", f"stopped after {MAX_SYNTAX_ERRORS} syntax errors; "
                        "the rest of the file was not read", "fix these and check again"))
                    return items
                chunk = _without_line(chunk, diag, src.line_start(diag.line) - begin)
                if chunk is None:
                    break
                continue
            if not failed:
                items.extend(_Builder(src, diagnostics, begin).items(tree))
            break
    return items


def _offset(src: Source, diag: Diagnostic) -> int:
    return src.line_start(diag.line) + diag.column - 1


def _without_line(chunk: str, diag: Diagnostic, line_start: int) -> str | None:
    """The chunk with the error's line (starting at `line_start`) blanked, or None when that
    cannot help (a brace problem, the item's own first line, a blank line, or a line that opens
    or closes a block)."""
    if diag.code in ("unclosed-brace", "unmatched-brace") or not 0 < line_start < len(chunk):
        return None
    line_end = chunk.find("\n", line_start)
    line_end = len(chunk) if line_end < 0 else line_end
    line = chunk[line_start:line_end]
    unclosed, unmatched = unbalanced(line)
    if not line.strip() or unclosed or unmatched:
        return None
    return chunk[:line_start] + _blank(line) + chunk[line_end:]


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def _syntax_error(src: Source, err: UnexpectedInput, text: str, base: int = 0) -> Diagnostic:
    """The diagnostic for a parse error in `text`, which starts at offset `base` of `src`."""
    def at(start: int, stop: int):
        return src.span(base + start, base + stop)

    unclosed, unmatched = unbalanced(text)
    pos = getattr(err, "pos_in_stream", None)
    if pos is None:
        token = getattr(err, "token", None)
        pos = getattr(token, "start_pos", None)
    if pos is None or pos < 0:
        pos = len(text.rstrip())
    # an unbalanced brace explains any error after it better than the parser can
    if unclosed and (isinstance(err, UnexpectedEOF) or _at_end(err) or pos > unclosed[0]):
        brace = unclosed[-1] if _at_end(err) or isinstance(err, UnexpectedEOF) else unclosed[0]
        line_start = text.rfind("\n", 0, brace) + 1
        opener = text[line_start:brace].strip() or "block"
        return Diagnostic.at(at(brace, brace + 1), "unclosed-brace",
                             f"this `{{` of `{opener}` is never closed",
                             f"add `}}` to close `{opener} {{`; blocks close in the order they "
                             "open")
    if unmatched and unmatched[0] <= pos:
        brace = unmatched[0]
        return Diagnostic.at(at(brace, brace + 1), "unmatched-brace",
                             "this `}` closes nothing", "remove it, or open a block before it")
    if isinstance(err, UnexpectedCharacters):
        return _bad_character(at, text, pos)
    token = getattr(err, "token", None)
    expected = sorted({TERMINAL_NAMES.get(t, f"`{t}`") for t in (err.expected or ())
                       if not t.startswith("__")})
    if token is None or token.type == "$END":
        return Diagnostic.at(at(pos, pos), "syntax", "unexpected end of file",
                             "expected " + " or ".join(expected) if expected else None)
    start, stop = token.start_pos, token.end_pos
    if token.type == "COMMA" and text[:start].rstrip().endswith(","):
        return Diagnostic.at(at(start, stop), "double-comma", "two commas in a row",
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
    return Diagnostic.at(at(start, stop), "syntax", message, hint)


def _at_end(err) -> bool:
    token = getattr(err, "token", None)
    return token is not None and token.type == "$END"


def _bad_character(at, text: str, pos: int) -> Diagnostic:
    """`at(start, stop)`: the span of a stretch of `text`."""
    ch = text[pos] if pos < len(text) else ""
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if ch in "\"'":
        return Diagnostic.at(at(pos, line_end), "unterminated-string",
                             "this string is not closed on its line",
                             f"a {ch}…{ch} string ends on its line: write \\n for a line break, "
                             'or use """…""" for text across lines')
    word = re.match(r"[A-Za-z0-9_.\-/:]+", text[pos:])
    if word and ch == "-" or (word and re.search(r"[-/]", word.group(0))):
        start = pos
        while start > 0 and re.match(r"[A-Za-z0-9_]", text[start - 1]):
            start -= 1
        whole = re.match(r"[A-Za-z0-9_.\-/:]+", text[start:]).group(0)
        return Diagnostic.at(at(start, start + len(whole)), "syntax",
                             f"`{whole}` is not a name",
                             f'names are letters, digits and `_`; quote other text: "{whole}"')
    shown = repr(ch)[1:-1] if ch else "end of file"
    return Diagnostic.at(at(pos, pos + 1), "syntax", f"unexpected character `{shown}`")


class _Builder:
    """Lark tree -> AST, decoding strings and numbers (bad ones become diagnostics). `base`:
    the source offset of the text the tree was parsed from."""

    def __init__(self, src: Source, diagnostics: list, base: int = 0):
        self.src, self.diagnostics, self.base = src, diagnostics, base

    def span(self, node) -> ast.Span:
        if isinstance(node, Token):
            return self.src.span(self.base + node.start_pos, self.base + node.end_pos)
        return self.src.span(self.base + node.meta.start_pos, self.base + node.meta.end_pos)

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
        end = self.src.text.rfind("}", self.base + tree.meta.start_pos,
                                  self.base + tree.meta.end_pos)
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
            value, problem = number(str(tok))
            if problem:              # the value is unset (None): reported here, once
                self.diagnostics.append(Diagnostic.at(
                    self.span(tok), "bad-number", problem,
                    "write a number a field can hold (floats are finite, integers fit 64 bits)"))
            return ast.Num(value, str(tok), self.span(tok))
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
        start = self.base + tok.start_pos
        value, offsets, problems = decode(raw, start)
        for bad_start, bad_end, message, hint in problems:
            self.diagnostics.append(Diagnostic.at(self.src.span(bad_start, bad_end), "bad-escape",
                                                  message, hint))
        return ast.Str(value, raw, self.src.span(start, start + len(raw)), offsets)


"""Pygments lexer for `.prompt` files, registered as the `pygments.lexers` entry point.

Mirrors grammars/prompt.lark (outer language) and grammars/template.lark (inside strings).
Every string's content is lexed as a template: any string may be one, and plain text is
harmless. A mistake the grammar rejects (a bad escape, `<softer>`, an unclosed `{`) becomes
an Error token so an editor shows it.
"""
from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, include
from pygments.token import (Comment, Error, Keyword, Name, Number, Operator, Punctuation,
                            String, Whitespace)

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DQ = r'"([^"\\\n]|\\.)*"'
_SQ = r"'([^'\\\n]|\\.)*'"


def _template(quote: str, token) -> list:
    """Template rules inside a string closed by `quote` (`"`, `'` or `\"\"\"`)."""
    # a quoted field name / soft init text may use the other quote (or an escaped one)
    other = {'"': r"'[^'\n]*'|\\\"[^\"\n]*?\\\"",
             "'": r'"[^"\n]*"|' + r"\\'[^'\n]*?\\'",
             '"""': r"'[^'\n]*'|\"[^\"\n]*\""}[quote]
    plain = {'"': r'[^{}\[<\\"\n]+', "'": r"[^{}\[<\\'\n]+", '"""': r'[^{}\[<\\"]+'}[quote]
    rules = [
        (quote, token, "#pop"),
        (r'\\(u[0-9a-fA-F]{4}|[ntr"\'\\])', String.Escape),
        (r"\\.", Error),                                     # unknown escape
        (r"\{\{|\}\}", String.Escape),                       # literal braces
        (r"(\{)(%s|%s)((?:\|%s)*)(\})" % (NAME, other, NAME),
         bygroups(String.Interpol, Name.Variable, _filters, String.Interpol)),
        (r"(\[MASK)(?:(:)(%s))?(\])" % NAME,
         bygroups(Name.Builtin, Punctuation, Name.Label, Name.Builtin)),
        (r"\[(SEP|CLS)\]", Name.Builtin.Pseudo),
        (r"(<soft)(?:(:)(%s))?(?:(\*)([1-9][0-9]*)|( +)(%s))?(>)" % (NAME, other),
         bygroups(Name.Tag, Punctuation, Name.Label, Operator, Number.Integer, Whitespace,
                  String.Other, Name.Tag)),
        (r"\[MASK|<soft|[{}]", Error),                       # malformed piece
        (r"[\[<]", token),
        (plain, token),
    ]
    if quote == '"""':
        rules.insert(-1, (r'"', token))                      # a lone `"` is text
    else:
        rules.insert(-1, (r"\n", Error, "#pop"))             # raw newline: unclosed string
    return rules


def _filters(lexer, match, ctx=None):
    """`|lower|keep` of a field: operators and filter names."""
    pos, text = match.start(), match.group()
    for part in text.split("|")[1:]:
        yield pos, Operator, "|"
        yield pos + 1, Name.Function, part
        pos += 1 + len(part)


class PromptLexer(RegexLexer):
    """The promptdsl `.prompt` language, template mini-language included."""

    name = "promptdsl"
    aliases = ["prompt", "promptdsl"]
    filenames = ["*.prompt"]
    mimetypes = ["text/x-promptdsl"]

    tokens = {
        # top level: keywords mean something only here (LANGUAGE.md §1b)
        "root": [
            include("space"),
            (r"(import)\b", Keyword.Namespace),
            (r"(task|sweep)(\s+)(%s)" % NAME, bygroups(Keyword, Whitespace, Name.Class)),
            (r"(extends)(\s+)(%s)" % NAME, bygroups(Keyword, Whitespace, Name.Class)),
            (r"\{", Punctuation, "body"),
            include("value"),
        ],
        "body": [
            include("space"),
            (r"\{", Punctuation, "#push"),
            (r"\}", Punctuation, "#pop"),
            # keys first: a name or string followed by `:` on the same line
            (r"%s(\.%s)*(?=[ \t]*:)" % (NAME, NAME), Name.Attribute),
            (r"(%s|%s)(?=[ \t]*:)" % (_DQ, _SQ), Name.Attribute),
            (r"(%s)([ \t]+)(%s)(?=[ \t]*\{)" % (NAME, NAME),
             bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"%s(?=[ \t]*\{)" % NAME, Keyword.Declaration),
            include("value"),
        ],
        "space": [
            (r"[ \t\n\f]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
        ],
        "value": [
            (r"(true|false|null)(?![A-Za-z0-9_])", Keyword.Constant),
            # a tag: a word, then a string (not a quoted key) or a number on the same line
            (r"%s(?=[ \t]+((%s|%s)(?![ \t]*:)|[0-9+\-.]))" % (NAME, _DQ, _SQ), Name.Decorator),
            (NAME, Name),
            (r"[+-]?(0|[1-9][0-9]*)((\.[0-9]+)([eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)"
             r"(?![A-Za-z0-9_.])", Number.Float),
            (r"[+-]?(0|[1-9][0-9]*)(?![A-Za-z0-9_.])", Number.Integer),
            (r'"""', String.Double, "triple"),
            (r'"', String.Double, "dq"),
            (r"'", String.Single, "sq"),
            (r"[\[\],:]", Punctuation),
        ],
        "dq": _template('"', String.Double),
        "sq": _template("'", String.Single),
        "triple": _template('"""', String.Double),
    }

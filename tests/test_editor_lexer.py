"""The Pygments lexer and the VS Code extension folder (promptdsl/editor/lexer.py, editors/)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pygments.token import Error, Keyword, Name, Comment

from promptdsl.editor.lexer import PromptLexer

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted([*REPO.glob("tasks/**/*.prompt"), *REPO.glob("examples/**/*.prompt"),
                  *REPO.glob("tests/**/*.prompt")])
FENCE = re.compile(r"^```prompt\n(.*?)^```", re.M | re.S)
VSCODE = REPO / "editors" / "vscode"


def lex(text):
    return list(PromptLexer(stripnl=False, ensurenl=False).get_tokens(text))


def doc_blocks():
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for i, m in enumerate(FENCE.finditer(doc.read_text(encoding="utf-8"))):
            yield pytest.param(m.group(1), id=f"{doc.name}-{i}")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_files_lex_cleanly_and_round_trip(path):
    text = path.read_text(encoding="utf-8")
    tokens = lex(text)
    assert [v for t, v in tokens if t in Error] == []
    assert "".join(v for _, v in tokens) == text


@pytest.mark.parametrize("text", list(doc_blocks()))
def test_doc_blocks_lex_cleanly(text):
    assert [v for t, v in lex(text) if t in Error] == []


SAMPLE = '''# a comment
task t extends base {
  template: "{sentence|keep|lower} <soft:topic*3> <soft 'It was'> [MASK:mood] [SEP] {{x}}"
  method lora { r: 4 }
  init: text "It was"
}
'''


def test_token_types_of_a_sample():
    tokens = [(t, v) for t, v in lex(SAMPLE) if v.strip()]
    for pair in [(Comment.Single, "# a comment"), (Keyword, "task"), (Keyword, "extends"),
                 (Name.Class, "base"), (Name.Attribute, "template"), (Name.Variable, "sentence"),
                 (Name.Function, "keep"), (Name.Function, "lower"), (Name.Tag, "<soft"),
                 (Name.Label, "topic"), (Name.Builtin, "[MASK"), (Name.Label, "mood"),
                 (Name.Builtin.Pseudo, "[SEP]"), (Keyword.Declaration, "method"),
                 (Name.Class, "lora"), (Name.Decorator, "text")]:
        assert pair in tokens, pair
    assert "".join(v for _, v in lex(SAMPLE)) == SAMPLE


@pytest.mark.parametrize("bad", ['"<softer>"', '"[MASK:]"', '"{ x }"', '"\\q"', '"open\n'])
def test_template_mistakes_are_error_tokens(bad):
    assert any(t in Error for t, _ in lex(f"task t {{ template: {bad} }}\n"))


def test_registered_with_pygments():
    """Through pyproject's `pygments.lexers` entry point, as `pygmentize -l prompt` finds it."""
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    lexer = get_lexer_by_name("prompt")
    assert type(lexer).__name__ == "PromptLexer"
    assert type(get_lexer_for_filename("x.prompt")).__name__ == "PromptLexer"


def test_vscode_folder_is_consistent():
    package = json.loads((VSCODE / "package.json").read_text())
    json.loads((VSCODE / "language-configuration.json").read_text())
    grammar = json.loads((VSCODE / "syntaxes" / "prompt.tmLanguage.json").read_text())
    (language,) = package["contributes"]["languages"]
    assert language["id"] == "promptdsl" and ".prompt" in language["extensions"]
    (entry,) = package["contributes"]["grammars"]
    assert entry["scopeName"] == grammar["scopeName"] and entry["language"] == "promptdsl"
    assert (VSCODE / entry["path"]).is_file() and (VSCODE / package["main"]).is_file()
    assert "vscode-languageclient" in package["dependencies"]


def _regexes(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                yield value
            else:
                yield from _regexes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _regexes(item)


def test_textmate_regexes_compile():
    grammar = json.loads((VSCODE / "syntaxes" / "prompt.tmLanguage.json").read_text())
    found = list(_regexes(grammar))
    assert len(found) > 10
    for rx in found:   # written in the subset Python's `re` and Oniguruma share
        re.compile(rx)

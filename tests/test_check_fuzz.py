"""Property test: mutated example files and random text never make `check` raise; every
diagnostic it returns is located and renders."""
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptdsl.api import check
from promptdsl.diagnostics import render_all
from promptdsl.syntax import ast
from promptdsl.syntax.fmt import format_text
from promptdsl.syntax.parse import parse_text

HERE = Path(__file__).parent
SOURCES = [p.read_text() for p in sorted((HERE / "examples").glob("*.prompt"))]
SYNTAX = list('{}[]<>"\',:#|*\\\n .-_=') + ["[MASK]", "<soft>", '"""', "task ", "extends ",
                                            "method ", "{{", "}}", "sweep ", "import ", "\t"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(HERE / "data", root / "data")
    (root / "examples").mkdir()
    for path in (HERE / "examples").glob("*.prompt"):   # imports between examples resolve
        shutil.copy(path, root / "examples" / path.name)
    return root / "examples"


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(st.one_of(st.sampled_from(SYNTAX), st.text(min_size=1, max_size=3)))
        if action == "insert":
            text = text[:pos] + piece + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 12)):]
        elif action == "replace":
            text = text[:pos] + piece + text[pos + len(piece):]
        else:
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            start = text.rfind("\n", 0, pos) + 1
            text = text[:end] + "\n" + text[start:end] + text[end:]
    return text


def assert_located(path, text):
    path.write_text(text, encoding="utf-8")
    diagnostics = check([str(path)])
    for diag in diagnostics:
        assert diag.severity in ("error", "warning")
        assert diag.line >= 1 and diag.column >= 1, diag
        assert (diag.end_line, diag.end_column) >= (diag.line, diag.column), diag
        assert diag.message and diag.code != "internal"
    render_all(diagnostics)
    result = format_text(text, str(path))
    if result.text is not None:      # formatting is idempotent and keeps what the file says
        assert format_text(result.text).text == result.text
        assert shape(parse_text(result.text).file.items) == shape(parse_text(text).file.items)


def shape(node):
    """What a syntax tree says, without positions (strings compared by value)."""
    if isinstance(node, list):
        return [shape(n) for n in node]
    if isinstance(node, (ast.Str, ast.Num, ast.Bool, ast.Ident, ast.Tagged, ast.ListV)):
        return (type(node).__name__, repr(ast.plain(node)))
    if isinstance(node, ast.Field):
        return ("field", node.key, node.quoted, shape(node.value))
    if isinstance(node, ast.Import):
        return ("import", node.path.value)
    fields = [type(node).__name__, node.name, getattr(node, "kind", None),
              getattr(node, "extends", None)]
    return tuple(fields) + (shape(node.body),)


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow])
RANDOM_TEXT = st.lists(st.one_of(st.sampled_from(SYNTAX), st.characters(exclude_categories=("Cs",))),
                       max_size=60).map("".join)
SHORT, LONG = 60, 600     # examples per run: the short fuzz always runs, the long one is `slow`


@settings(max_examples=SHORT, **SETTINGS)
@given(text=mutated())
def test_mutated_examples_give_only_located_diagnostics(workdir, text):
    assert_located(workdir / "fuzz.prompt", text)


@settings(max_examples=SHORT, **SETTINGS)
@given(text=RANDOM_TEXT)
def test_random_text_gives_only_located_diagnostics(workdir, text):
    assert_located(workdir / "random.prompt", text)


@pytest.mark.slow
@settings(max_examples=LONG, **SETTINGS)
@given(text=mutated())
def test_long_fuzz_of_mutated_examples(workdir, text):
    assert_located(workdir / "fuzz.prompt", text)


@pytest.mark.slow
@settings(max_examples=LONG, **SETTINGS)
@given(text=RANDOM_TEXT)
def test_long_fuzz_of_random_text(workdir, text):
    assert_located(workdir / "random.prompt", text)

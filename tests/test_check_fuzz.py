"""Property test: mutated example files, files generated from the grammar's constructs and random
text never make `check` raise; every diagnostic it returns is located and renders. The generator
and the mutator are benchmarks/fuzz_frontend.py's (its driver runs them 100,000 times)."""
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import fuzz_frontend
from promptdsl.api import check
from promptdsl.diagnostics import render_all
from promptdsl.syntax import ast
from promptdsl.syntax.fmt import format_text
from promptdsl.syntax.parse import parse_text
from tiny import frontend_project

HERE = Path(__file__).parent
SOURCES = [p.read_text() for p in sorted((HERE / "examples").glob("*.prompt"))]
SYNTAX = fuzz_frontend.SYNTAX


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(HERE / "data", root / "data")
    (root / "examples").mkdir()
    for path in (HERE / "examples").glob("*.prompt"):   # imports between examples resolve
        shutil.copy(path, root / "examples" / path.name)
    return frontend_project(root / "examples")         # d.tsv and ./mlm for generated files


class DrawPick:
    """fuzz_frontend's `pick` over Hypothesis draws (so failures shrink)."""

    def __init__(self, draw):
        self.draw = draw

    def choice(self, seq):
        return self.draw(st.sampled_from(list(seq)))

    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))


@st.composite
def mutated(draw):
    text = fuzz_frontend.mutated(DrawPick(draw), draw(st.sampled_from(SOURCES)))
    if draw(st.booleans()):                  # and characters the mutator's pieces lack
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.text(min_size=1, max_size=3)) + text[pos:]
    return text


@st.composite
def generated(draw):
    """A file built from the grammar's constructs: imports, tasks (extends), sweeps, blocks,
    fields, every kind of value, templates with every kind of piece; mostly plausible."""
    return fuzz_frontend.generated(DrawPick(draw))


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
    if isinstance(node, (ast.Str, ast.Num, ast.Bool, ast.Null, ast.Ident, ast.Tagged,
                         ast.ListV)):
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


@settings(max_examples=SHORT, **SETTINGS)
@given(text=generated())
def test_files_generated_from_the_grammar_give_only_located_diagnostics(workdir, text):
    assert_located(workdir / "generated.prompt", text)


@pytest.mark.slow
@settings(max_examples=LONG, **SETTINGS)
@given(text=generated())
def test_long_fuzz_of_generated_files(workdir, text):
    assert_located(workdir / "generated.prompt", text)


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

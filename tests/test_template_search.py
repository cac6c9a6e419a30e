"""Discrete template search (`method autoprompt`, `method template_search`): each writes a
found.prompt that `promptc check` accepts and `promptc train` runs, evaluated exactly as that
file; the search is deterministic and refuses what it cannot search, with a clear message."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

import tiny
from promptdsl.cli import main

ROWS = [("a great movie", "1"), ("a terrible movie", "0"), ("great , really great", "1"),
        ("terrible , just terrible", "0"), ("it was great", "1"), ("it was terrible", "0")]

PROMPT = """
task search {{
  model: "{model}"
  data {{ train: "rows.tsv"  test: "rows.tsv"  label: label }}
  template: "{template}"
  verbalizer {{ "0": "terrible"  "1": "great" }}
  {methods}
  train {{ device: cpu }}
}}
"""
AUTOPROMPT = "method autoprompt { iterations: 6, candidates: 4, batch_size: 8 }"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def project(tmp_path, tiny_model_dir):
    """`project(model, methods, template=…)` -> the path of a search task over ROWS (train and
    test are the same rows, so the search's own train score is the test score)."""
    tiny.write_tsv(tmp_path, ROWS, name="rows.tsv")

    def write(model, methods, template="{sentence} <soft*3> [MASK]", name="search.prompt"):
        path = tmp_path / name
        path.write_text(PROMPT.format(model=tiny_model_dir(model), template=template,
                                      methods=methods), encoding="utf-8")
        return path
    return write


def found_template(run_dir) -> str:
    text = (run_dir / "found.prompt").read_text(encoding="utf-8")
    return re.search(r'^  template: "(.*)"$', text, re.M).group(1)


def test_found_prompt_checks_and_trains_as_the_run_evaluated_it(project, tmp_path):
    # template_search on T5: span filling with the gold label word at the [MASK]
    path = project("t5", "method template_search { examples: 4, beams: 3, keep: 2, "
                         "ensemble: true }", template="{sentence} <soft*2> [MASK] .")
    result = run("train", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    found = found_template(tmp_path / "run")
    assert "<soft" not in found and found.endswith("[MASK] .")
    kept = summary["templates"]
    assert len(kept) == 2 and kept[0]["template"] == found
    assert kept[0]["accuracy"] >= kept[1]["accuracy"]
    # scored on the train rows, which are the test rows: the run's metric is the search's
    assert summary["accuracy"] == pytest.approx(kept[0]["accuracy"])
    assert set(summary["ensemble"]) >= {"accuracy", "macro_f1"}
    assert run("check", tmp_path / "run" / "found.prompt").exit_code == 0
    again = run("train", tmp_path / "run" / "found.prompt", "--out", tmp_path / "again")
    assert again.exit_code == 0, again.output
    trained = json.loads((tmp_path / "again" / "summary.json").read_text())["test"]
    assert trained["accuracy"] == summary["accuracy"]
    assert trained["loss"] == pytest.approx(summary["loss"], abs=1e-6)
    # the run's checkpoint is the found task: `promptc eval` on the search file reproduces it
    evaluated = run("eval", path, "--checkpoint", tmp_path / "run")
    assert evaluated.exit_code == 0, evaluated.output
    assert f"{100 * summary['accuracy']:.2f}" in evaluated.output.splitlines()[-1]


@pytest.mark.parametrize("model", ["gpt2", "bert"])
def test_autoprompt_improves_the_likelihood_and_writes_words(project, tmp_path, model):
    path = project(model, AUTOPROMPT)
    result = run("train", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    search = summary["search"]
    before, after = search["train_log_likelihood"]
    # a batch holds every row, so each accepted word raises the train likelihood
    assert search["start"] == "the the the" and search["found"] != search["start"]
    assert after > before
    assert found_template(tmp_path / "run") == "{sentence} " + search["found"] + " [MASK]"
    # the literal words score exactly as their embeddings did during the search
    assert summary["loss"] == pytest.approx(-after, abs=1e-5)
    assert run("check", tmp_path / "run" / "found.prompt").exit_code == 0


def test_the_search_repeats_with_its_seed(project, tmp_path):
    path = project("llama", AUTOPROMPT)
    for out in ("one", "two"):
        assert run("train", path, "--out", tmp_path / out).exit_code == 0
    assert (tmp_path / "one" / "found.prompt").read_text() == \
        (tmp_path / "two" / "found.prompt").read_text()


def test_a_causal_model_proposes_what_follows_the_input(project, tmp_path):
    path = project("gpt2", "method template_search { examples: 2, beams: 2, keep: 1 }")
    result = run("train", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    found = found_template(tmp_path / "run")
    assert found.startswith("{sentence} ") and found.endswith(" [MASK]") and "\ufffd" not in found


def test_a_masked_lm_searches_with_a_generator(project, tmp_path, tiny_model_dir):
    alone = run("train", project("bert", "method template_search { }"), "--out", tmp_path / "no")
    assert alone.exit_code == 2 and "set `generator:`" in alone.output
    assert not (tmp_path / "no").exists()
    path = project("bert", "method template_search { examples: 2, beams: 2, "
                           f'generator: "{tiny_model_dir("t5")}" }}')
    result = run("train", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert run("check", tmp_path / "run" / "found.prompt").exit_code == 0


@pytest.mark.parametrize("methods, template, message", [   # (check catches the others)
    ("method template_search { }", "<soft> {sentence} <soft*2> [MASK]", "fills one slot"),
])
def test_what_cannot_be_searched_is_refused_before_anything_is_written(project, tmp_path,
                                                                       methods, template,
                                                                       message):
    result = run("train", project("gpt2", methods, template=template), "--out", tmp_path / "r")
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


@pytest.mark.parametrize("methods, template, code", [
    (AUTOPROMPT, "{sentence} It was [MASK]", "no-search-slot"),
    ("method template_search { }", "{sentence} It was [MASK]", "no-search-slot"),
    (AUTOPROMPT + " method lora { }", "{sentence} <soft*3> [MASK]", "method-composition"),
])
def test_check_locates_what_a_search_cannot_search(project, methods, template, code):
    from promptdsl.api import check
    path = project("gpt2", methods, template=template)
    errors = [d for d in check([str(path)]) if d.severity == "error"]
    assert [d.code for d in errors] == [code]
    assert errors[0].line == 7          # at the method (the second one for a composition)


def test_found_words_become_template_text():
    from promptdsl.runtime import template_text
    from promptdsl_plugins.methods._discrete import filled_pieces
    pieces = tiny.pieces_from_text("{sentence}<soft*2>It was [MASK]")
    pieces.append({"type": "text", "text": " {x}"})      # a literal brace, as the IR holds it
    text = template_text(filled_pieces(pieces, {1: "so very"}))
    # a space keeps the words apart from their neighbours; braces stay text
    assert text == "{sentence} so very It was [MASK] {{x}}"


def test_trigger_words_are_whole_words_that_tokenize_back():
    from promptdsl_plugins.methods._autoprompt import word_vocabulary
    tokenizer = tiny.build_tokenizer("bert")
    ids, words = word_vocabulary(tokenizer, len(tokenizer))
    assert "great" in words and not any(w.startswith("##") for w in words)
    assert not set(ids.tolist()) & set(tokenizer.all_special_ids)
    for i, word in zip(ids.tolist()[:50], words):
        assert tokenizer(" " + word, add_special_tokens=False)["input_ids"] == [i]


def test_words_that_start_a_line_are_searched_in_their_spaceless_form(project, tmp_path):
    # byte-level BPE: " great" and "great" are different tokens; the found text after a line
    # break is read without a space, so the search must score that form
    path = project("gpt2", AUTOPROMPT, template="{sentence}\\n<soft*2> It was [MASK]")
    result = run("train", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    assert summary["loss"] == pytest.approx(-summary["search"]["train_log_likelihood"][1],
                                            abs=1e-5)

"""KPT expansion and refinement, PETAL search: the word-level algorithms, without a model."""
from __future__ import annotations

import pytest
import torch

from promptdsl.errors import DataError, ModelError
from promptdsl_plugins.verbalizers._expand import expanded_words, read_word_list
from promptdsl_plugins.verbalizers._refine import frequency_keep, relevance_keep
from promptdsl_plugins.verbalizers._search import search_label_words


def test_word_list_file_expands_each_label_in_order(tmp_path):
    task_file = tmp_path / "task.prompt"
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "words.txt").write_text("politics, government\nsports,soccer, tennis\n")
    words = expanded_words({"1": ["world"], "2": ["sports"]}, "kb/words.txt", str(task_file))
    assert words == {"1": ["world", "politics", "government"], "2": ["sports", "soccer", "tennis"]}


def test_word_list_json_and_errors(tmp_path):
    path = tmp_path / "w.json"
    path.write_text('{"pos": ["good"], "neg": ["bad", "awful"]}')
    assert read_word_list(path, ["neg", "pos"]) == {"neg": ["bad", "awful"], "pos": ["good"]}
    lines = tmp_path / "w.txt"
    lines.write_text("a,b\n")
    with pytest.raises(DataError, match="1 non-empty lines for 2 labels"):
        read_word_list(lines, ["x", "y"])
    with pytest.raises(ModelError, match="neither a file"):
        expanded_words({"x": ["a"]}, "missing.txt", str(tmp_path / "t.prompt"))


def test_frequency_refinement_drops_rarely_predicted_words():
    # words: label 0 = [anchor, common, rare], label 1 = [anchor, rare, common]
    probs = torch.tensor([[0.3, 0.2, 1e-6, 0.3, 1e-7, 0.1]] * 4)
    owner = torch.tensor([0, 0, 0, 1, 1, 1])
    anchor = torch.tensor([True, False, False, True, False, False])
    keep = frequency_keep(probs, owner, anchor, cutoff=0.5)
    assert keep.tolist() == [True, True, False, True, False, True]


def test_relevance_refinement_drops_words_that_follow_the_other_label():
    # rows 0-1 are "label 0 contexts", rows 2-3 "label 1 contexts"
    probs = torch.tensor([[0.5, 0.4, 0.01, 0.01, 0.3],
                          [0.6, 0.5, 0.02, 0.01, 0.4],
                          [0.01, 0.02, 0.5, 0.4, 0.01],
                          [0.02, 0.01, 0.6, 0.5, 0.02]])
    owner = torch.tensor([0, 0, 1, 1, 1])      # word 4 is listed under label 1 but acts like 0
    anchor = torch.tensor([True, False, True, False, False])
    assert relevance_keep(probs, owner, anchor, 2).tolist() == [True, True, True, True, False]


def test_petal_search_finds_the_separating_tokens():
    generator = torch.Generator().manual_seed(0)
    probs = torch.rand(40, 50, generator=generator).softmax(-1) * 0.5
    labels = torch.arange(40) % 2
    probs[labels == 0, 7] += 0.3       # token 7 marks label 0, token 11 label 1
    probs[labels == 1, 11] += 0.3
    probs[:, 3] += 0.4                 # frequent everywhere: must not be chosen
    chosen = search_label_words(probs, labels, 2, torch.arange(50), per_label=1)
    assert chosen == [[7], [11]]


def test_wordnet_source_expands_or_says_what_is_missing():
    from promptdsl_plugins.knowledge import _wordnet_db
    try:
        _wordnet_db.wordnet_dir()
    except _wordnet_db.KnowledgeSourceError as exc:
        assert "apt-get install wordnet-base" in str(exc)
        return
    words = expanded_words({"2": ["sports"], "3": ["business"]}, "wordnet", None)
    assert "athletics" in words["2"] and words["2"][0] == "sports"
    assert "commerce" in words["3"] or "firm" in words["3"]


def test_wordnet_missing_files_give_a_clear_error(monkeypatch, tmp_path):
    from promptdsl_plugins.knowledge import _wordnet_db
    _wordnet_db.wordnet_dir.cache_clear()
    monkeypatch.setattr(_wordnet_db, "SEARCH_DIRS", (str(tmp_path),))
    monkeypatch.delenv("WORDNET_DIR", raising=False)
    try:
        with pytest.raises(_wordnet_db.KnowledgeSourceError, match="wordnet-base"):
            expanded_words({"a": ["sports"]}, "wordnet", None)
    finally:
        _wordnet_db.wordnet_dir.cache_clear()

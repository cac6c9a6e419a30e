"""The caches that make `check` and `check --params` fast give the same answers as the work they
skip, and notice a changed file."""
import os

import pytest

from promptdsl import api
from promptdsl.ir import table_cache
from promptdsl.model import params_cache

import tiny

TASK = """task t {{
  model: "{model}"
  template: "{{sentence}} It was [MASK]"
  verbalizer {{
    "0": "bad"
    "1": "good"
  }}
  method zero_shot {{ }}
  data {{
    train: "train.tsv"
    test: "train.tsv"
    shots: {shots}
  }}
}}
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTDSL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(table_cache, "MIN_ROWS", 0)
    return tmp_path / "cache"


def _task(tmp_path, model, rows, shots=2):
    tiny.write_tsv(tmp_path, rows, name="train.tsv")
    path = tmp_path / "t.prompt"
    path.write_text(TASK.format(model=model, shots=shots))
    return str(path)


def _codes(path):
    return [(d.code, d.message) for d in api.check([str(path)])]


def test_a_summary_gives_the_same_diagnostics_and_a_changed_file_is_read_again(
        tmp_path, cache, tiny_model_dir):
    rows = [("good film", "1"), ("bad film", "0"), ("fine", "1"), ("awful", "0")]
    path = _task(tmp_path, tiny_model_dir("gpt2"), rows, shots=3)
    first = _codes(path)
    assert any("shots" in m for _, m in first), first   # 2 rows per label, 3 asked
    assert list((cache / "tables").glob("*.json"))
    assert _codes(path) == first                          # answered from the summary
    tiny.write_tsv(tmp_path, rows * 2, name="train.tsv")  # now 4 per label
    os.utime(tmp_path / "train.tsv", ns=(1, 1))           # a new mtime whatever the clock says
    assert _codes(path) == []


def test_a_summary_reads_the_file_for_a_column_it_did_not_keep(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(table_cache, "FEW_VALUES", 1)
    spec = type("Spec", (), {"name": "tsv"})()
    path = tiny.write_tsv(tmp_path, [("a", "1"), ("b", "0")])
    from promptdsl_plugins.data_formats.tsv import read
    spec.read = read
    table_cache.cached_read(spec, str(path))
    summary = table_cache.cached_read(spec, str(path))
    assert isinstance(summary, table_cache.SummaryTable)
    assert summary.column("sentence") == ["a", "b"] and summary.column("label") == ["1", "0"]
    assert summary.lines == [2, 3] and len(summary) == 2


def test_params_report_is_reused_only_while_nothing_changed(tmp_path, cache, tiny_model_dir,
                                                            monkeypatch):
    path = _task(tmp_path, tiny_model_dir("gpt2"), [("good", "1"), ("bad", "0")] * 3)
    task = api.load(path)
    first = params_cache.cached_report(task)
    built = []
    real = params_cache.report
    monkeypatch.setattr(params_cache, "report", lambda t: built.append(t) or real(t))
    again = params_cache.cached_report(task)
    assert built == [] and again == first
    changed = api.load(path, overrides={"template": '"{sentence} So it was [MASK]"'})
    params_cache.cached_report(changed)
    assert len(built) == 1

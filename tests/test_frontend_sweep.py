"""The one sweep expander (promptdsl.ir.sweep): swept data files resolve against the .prompt
file's folder and must exist; run names; per-split row limits through sweeps and --set."""
import pytest

from promptdsl.api import check, load
from promptdsl.ir import expand_sweep

from tiny import FRONTEND_DATA as DATA, FRONTEND_TASK as BASE, frontend_project


@pytest.fixture
def folder(tmp_path):
    frontend_project(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.tsv").write_text(DATA)
    return tmp_path


def write(folder, text, name="t.prompt"):
    (folder / name).write_text(text)
    return str(folder / name)


def test_swept_data_files_are_absolute_in_the_grid_and_the_runs(folder, monkeypatch):
    monkeypatch.chdir(folder / "sub")       # not the .prompt file's folder
    path = write(folder, BASE + 'sweep base { data.train: ["d.tsv", "sub/d.tsv"] }\n')
    ir = load(path)
    assert ir["sweep"] == {"data.train": [str(folder / "d.tsv"), str(folder / "sub" / "d.tsv")]}
    runs = expand_sweep(ir)
    assert [run["data"]["train"] for _, _, run in runs] == ir["sweep"]["data.train"]
    # a run folder name never holds a path; two files of one name stay apart
    assert [name for _, name, _ in runs] == ["train=d.tsv", "train=d.tsv-2"]
    assert runs[0][0] == {"data.train": str(folder / "d.tsv")}


def test_a_swept_file_that_does_not_exist_is_located_at_its_item(folder):
    text = BASE + 'sweep base {\n  data.test: ["d.tsv", "nope.tsv"]\n}\n'
    diags = check([write(folder, text)])
    assert [(d.code, d.line, d.column) for d in diags] == [("missing-file", 9, 24)]
    assert "nope.tsv" in diags[0].message


def test_row_limits_through_set_and_sweeps(folder):
    path = write(folder, BASE + "sweep base { data.test_rows: [1, 2] }\n")
    ir = load(path, overrides={"data.train_rows": "1", "data.take": "first"})
    assert (ir["data"]["train_rows"], ir["data"]["take"], ir["data"]["validation_rows"]) == \
        (1, "first", None)
    assert [run["data"]["test_rows"] for _, _, run in expand_sweep(ir)] == [1, 2]
    diags = check([write(folder, BASE + "sweep base { data.test_rows: [0] }\n", "z.prompt")])
    assert [(d.code, d.line) for d in diags] == [("invalid-value", 8)]


def test_schedule_and_take_are_checked_with_defaults(folder):
    ir = load(write(folder, BASE))
    assert ir["train"]["schedule"] == "linear" and ir["data"]["take"] == "sample"
    text = BASE.replace("method finetune { }", "method finetune { }\n  train { schedule: cosin }")
    diag, = check([write(folder, text)])
    assert diag.code == "invalid-value" and "did you mean `cosine`" in diag.hint

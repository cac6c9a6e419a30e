"""benchmarks.task_runs: a task-file run is kept and read back (a command resumes), an
interrupted one is started again, and a row sample is fixed by its seed."""
from __future__ import annotations

import tiny
from benchmarks import task_runs

ROWS = [("a great movie", "1"), ("a terrible movie", "0"), ("great fun", "1"),
        ("terrible , just terrible", "0")]


def write_task(tmp_path, model_dir):
    tiny.write_tsv(tmp_path, ROWS, name="rows.tsv")
    path = tmp_path / "t.prompt"
    path.write_text(f'task t {{\n  model: "{model_dir}"\n  data {{ test: "rows.tsv"  label: label }}\n'
                    '  template: "{sentence} It was [MASK]"\n'
                    '  verbalizer { "0": "terrible"  "1": "great" }\n  method zero_shot { }\n}\n')
    return path


def test_a_finished_run_is_read_back_and_an_interrupted_one_redone(tmp_path, tiny_model_dir):
    path = write_task(tmp_path, tiny_model_dir("gpt2"))
    out = tmp_path / "runs" / "t"
    first = task_runs.run_task(path, "t", {"train.eval_batch_size": "2"}, out)
    assert first["test"]["accuracy"] is not None and (out / "summary.json").is_file()
    stamp = (out / "summary.json").stat().st_mtime_ns
    again = task_runs.run_task(path, "t", {}, out)
    assert again == first and (out / "summary.json").stat().st_mtime_ns == stamp
    (out / "summary.json").unlink()                       # as if it stopped before the end
    redone = task_runs.run_task(path, "t", {}, out)
    assert redone["test"]["accuracy"] == first["test"]["accuracy"]


def test_a_sample_is_fixed_by_its_seed_and_written_once(tmp_path):
    source = tiny.write_tsv(tmp_path, [(f"row {i}", str(i % 2)) for i in range(50)],
                            name="all.tsv")
    a = task_runs.sample_file(source, 10, tmp_path / "a.tsv", seed=0)
    b = task_runs.sample_file(source, 10, tmp_path / "b.tsv", seed=0)
    c = task_runs.sample_file(source, 10, tmp_path / "c.tsv", seed=1)
    lines = a.read_text().splitlines()
    assert lines[0] == "sentence\tlabel" and len(lines) == 11
    assert a.read_text() == b.read_text() != c.read_text()
    rows = [int(line.split()[1]) for line in lines[1:]]
    assert rows == sorted(rows)                           # the file's order is kept

"""`promptc train` on a file with a sweep and with several tasks."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptdsl.cli import main



ROWS = [(f"{word} movie number {i}", label) for i in range(4)
        for word, label in (("great", "1"), ("terrible", "0"))]

PROMPT = """
task base {{
  model: "{model}"
  data {{
    test: "data.tsv"
    label: label
  }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{
    "0": "terrible"
    "1": "great"
  }}
  method zero_shot {{ }}
  train {{ device: cpu }}
}}

task few extends base {{
  data {{
    train: "data.tsv"
    shots: 2
  }}
  method finetune {{ }}
  train {{
    epochs: 1
    batch_size: 2
    learning_rate: 1e-3
  }}
}}

sweep few {{
  data.sample_seed: [1, 2, 3]
}}
"""


@pytest.fixture
def prompt(tmp_path, tiny_model_dir, write_tsv):
    write_tsv(ROWS, name="data.tsv")
    path = tmp_path / "two.prompt"
    path.write_text(PROMPT.format(model=tiny_model_dir("bert")), encoding="utf-8")
    return path


def test_sweep_runs_every_point_and_reports_mean_and_std(prompt, tmp_path):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["train", str(prompt), "--task", "few", "--out", str(out)])
    assert result.exit_code == 0, result.output
    points = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert points == ["sample_seed=1", "sample_seed=2", "sample_seed=3"]
    sweep = json.loads((out / "sweep.json").read_text())
    accuracies = [run["metrics"]["accuracy"] for run in sweep["runs"]]
    assert accuracies == [json.loads((out / p / "summary.json").read_text())["test"]["accuracy"]
                          for p in points]      # each point's own run, in grid order
    assert sweep["aggregate"]["accuracy"]["values"] == accuracies
    assert sweep["aggregate"]["accuracy"]["mean"] == pytest.approx(sum(accuracies) / 3)
    assert "accuracy:" in result.output and "± " in result.output and "over 3 runs" in result.output
    # each point drew its own shots
    tasks = [json.loads((out / p / "task.json").read_text()) for p in points]
    assert [t["data"]["sample_seed"] for t in tasks] == [1, 2, 3]
    assert all(t["sweep"] is None for t in tasks)


def test_every_task_of_the_file_runs_without_task(prompt, tmp_path):
    out = tmp_path / "all"
    result = CliRunner().invoke(main, ["train", str(prompt), "--out", str(out),
                                       "--set", "train.epochs=1"])
    assert result.exit_code == 0, result.output
    assert (out / "base" / "summary.json").is_file()
    assert (out / "few" / "sweep.json").is_file()

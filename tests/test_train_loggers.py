"""Experiment loggers: `--log tensorboard` / `train { log: … }` write scalars that TensorBoard's
own reader reads back, equal to metrics.jsonl; a third-party logger gets the same scalars."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptdsl import LoggerSpec, hookimpl, registry
from promptdsl.api import check
from promptdsl.cli import main

ROWS = [("a great movie", "1"), ("a terrible movie", "0"), ("great , really great", "1"),
        ("terrible , just terrible", "0"), ("it was great", "1"), ("it was terrible", "0")]

PROMPT = """task tiny {{
  model: "{model}"
  data {{ train: "d.tsv"  validation: "d.tsv"  test: "d.tsv"  label: label }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{ "0": "terrible"  "1": "great" }}
  method finetune {{ }}
  train {{ epochs: 2  batch_size: 2  eval_every: 2  learning_rate: 1e-3  device: cpu{log} }}
}}
"""


class Recorder:
    """A third-party logger, registered as a plugin."""
    def __init__(self):
        self.scalars, self.closed, self.opened = [], False, None

    @hookimpl
    def promptdsl_loggers(self):
        def open_(run_dir, task):
            self.opened = run_dir
            return self
        return [LoggerSpec("recorder", open=open_)]

    def scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def close(self):
        self.closed = True


@pytest.fixture
def recorder():
    registry.reset()
    plugin = Recorder()
    registry.register(plugin, name="recorder")
    yield plugin
    registry.reset()


@pytest.fixture
def project(tmp_path, tiny_model_dir, write_tsv):
    write_tsv(ROWS, name="d.tsv")

    def write(log=""):
        path = tmp_path / "tiny.prompt"
        path.write_text(PROMPT.format(model=tiny_model_dir("bert"), log=log), encoding="utf-8")
        return path
    return write


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def test_tensorboard_scalars_match_metrics_jsonl(recorder, project, tmp_path):
    path = project(log='  log: ["recorder"]')
    result = run("train", path, "--out", tmp_path / "run", "--log", "tensorboard")
    assert result.exit_code == 0, result.output
    scalars = read_events(tmp_path / "run" / "tensorboard")
    for tag in ("train/loss", "train/learning_rate", "validation/accuracy", "validation/loss",
                "test/accuracy", "train/examples_per_second"):
        assert tag in scalars, sorted(scalars)
    steps = [step for step, _ in scalars["train/loss"]]
    assert steps == sorted(set(steps)) and len(steps) >= 2
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    logged = {r["step"]: r["train_loss"] for r in records if "train_loss" in r}
    assert [step for step, _ in scalars["train/loss"]] == sorted(logged)
    for step, value in scalars["train/loss"]:
        assert value == pytest.approx(logged[step], rel=1e-6)
    final = records[-1]
    assert scalars["test/accuracy"][-1][1] == pytest.approx(final["accuracy"])
    # the plugin logger (from `train { log }`) got the same scalars, then was closed
    assert recorder.closed and recorder.opened == tmp_path / "run"
    got = {}
    for tag, value, step in recorder.scalars:
        got.setdefault(tag, []).append((step, value))
    assert sorted(got) == sorted(scalars)
    for step, value in got["train/loss"]:
        assert value == pytest.approx(dict(scalars["train/loss"])[step], rel=1e-6)


def test_unknown_logger_in_the_file_is_located(recorder, project):
    diags = check([str(project(log='  log: ["tensorbord"]'))])
    assert [d.line for d in diags] == [7], diags
    assert "tensorboard" in diags[0].message and "did you mean `tensorboard`" in diags[0].hint


def test_unknown_logger_on_the_command_line_is_a_clean_error(recorder, project, tmp_path):
    result = run("train", project(), "--out", tmp_path / "run", "--log", "nope")
    assert result.exit_code == 2
    assert "unknown logger `nope`" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_missing_tensorboard_package_names_the_install(recorder, project, tmp_path, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    result = run("train", project(), "--out", tmp_path / "run", "--log", "tensorboard")
    assert result.exit_code == 2 and "pip install tensorboard" in result.output


def test_a_failing_logger_stops_the_run_keeping_metrics_jsonl(recorder, project, tmp_path,
                                                             monkeypatch):
    def broken(tag, value, step):
        raise OSError("disk full")
    monkeypatch.setattr(recorder, "scalar", broken)
    result = run("train", project(), "--out", tmp_path / "run", "--log", "recorder")
    assert result.exit_code == 2 and "logger `recorder` failed: disk full" in result.output
    assert (tmp_path / "run" / "metrics.jsonl").read_text().strip()



def test_sweep_points_log_to_their_own_run_dirs(recorder, project, tmp_path):
    path = project()
    path.write_text(path.read_text() + "\nsweep tiny {\n  train.seed: [1, 2]\n}\n")
    out = tmp_path / "sweep"
    result = run("train", path, "--task", "tiny", "--out", out, "--log", "tensorboard",
                 "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    points = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in points] == ["seed=1", "seed=2"]
    for point in points:
        assert "test/accuracy" in read_events(point / "tensorboard")
    assert not (out / "tensorboard").exists()

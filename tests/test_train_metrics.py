"""Metric plugins, the metrics table, sweeps and the run directory (no model needed)."""
from __future__ import annotations

import json

import pytest

from promptdsl.train.metrics import compute_metrics, format_table, mean_std
from promptdsl.train.rundir import RunDir, RunDirError, default_run_dir
import tiny
from promptdsl.ir import expand_sweep
from promptdsl.train.sweep import aggregate


def test_metrics_by_hand():
    gold = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    m = compute_metrics(gold, pred, ["a", "b", "c"], "accuracy")
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: tp 2, pred 2, gold 3 -> 0.8; b: tp 1, pred 2, gold 2 -> 0.5; c: tp 1, pred 2, gold 1 -> 2/3
    assert m["per_label_f1"] == pytest.approx({"a": 0.8, "b": 0.5, "c": 2 / 3})
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_macro_f1_skips_labels_never_seen():
    m = compute_metrics(["a", "a"], ["a", "a"], ["a", "b"], "macro_f1")
    assert m["macro_f1"] == 1.0 and m["per_label_f1"] == {"a": 1.0, "b": 0.0}


def test_unknown_task_metric_is_a_clean_error():
    from promptdsl.errors import PluginError
    with pytest.raises(PluginError, match="unknown metric `bleurt`"):
        compute_metrics(["a"], ["a"], ["a"], "bleurt")


def test_a_text_metric_on_labels_is_a_clean_error():
    from promptdsl.errors import PluginError
    with pytest.raises(PluginError, match="metric `bleu` compares texts"):
        compute_metrics(["a"], ["a"], ["a"], "bleu")


def test_table_lists_every_label():
    text = format_table({"test": {"accuracy": 0.5, "macro_f1": 0.4,
                                  "per_label_f1": {"neg": 0.3, "pos": 0.5}}})
    header, rule, row = text.splitlines()
    assert "F1[neg]" in header and "F1[pos]" in header
    assert row.split() == ["test", "50.00", "40.00", "30.00", "50.00"]


def test_mean_std():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert mean_std([0.5]) == (0.5, 0.0)


def test_sweep_expands_every_point_in_order(tmp_path):
    task = tiny.make_task(tmp_path, "{sentence} It was [MASK] .")
    task["sweep"] = {"data.sample_seed": [13, 21], "train.learning_rate": [1e-5, 2e-5]}
    runs = expand_sweep(task)
    assert [point for point, _, _ in runs] == [   # the first key varies slowest
        {"data.sample_seed": seed, "train.learning_rate": rate}
        for seed in (13, 21) for rate in (1e-5, 2e-5)]
    point, name, run = runs[3]
    assert run["data"]["sample_seed"] == 21 and run["train"]["learning_rate"] == 2e-5
    assert run["sweep"] is None and name == "sample_seed=21,learning_rate=2e-05"
    assert task["sweep"] and task["data"]["sample_seed"] != 21   # the original untouched
    assert expand_sweep({**task, "sweep": None}) == [({}, "", {**task, "sweep": None})]


def test_sweep_aggregate():
    runs = [{"test": {"accuracy": 0.5, "per_label_f1": {"x": 0.2}}},
            {"test": {"accuracy": 0.7, "per_label_f1": {"x": 0.4}}}]
    agg = aggregate(runs, "test")
    assert agg["accuracy"]["mean"] == pytest.approx(0.6)
    assert agg["per_label_f1"]["x"]["mean"] == pytest.approx(0.3)


def test_run_dir_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text("{}")
    with pytest.raises(RunDirError, match="not empty"):
        RunDir.create(tmp_path / "old")
    assert (tmp_path / "old" / "summary.json").read_text() == "{}"
    RunDir.create(tmp_path / "empty")  # a new or empty folder is fine
    RunDir.create(tmp_path / "empty")


def test_metrics_lines_are_appended(tmp_path):
    run = RunDir.create(tmp_path / "run")
    run.append_metrics({"step": 1, "accuracy": 0.5})
    run.append_metrics({"step": 2, "loss": float("nan")})
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]
    assert json.loads(lines[1])["loss"] is None  # NaN is not JSON


def test_default_run_dir_names_are_unique(tmp_path):
    first = default_run_dir("sst2", tmp_path)
    first.mkdir(parents=True)
    second = default_run_dir("sst2", tmp_path)
    assert first != second and first.name.startswith("sst2-")

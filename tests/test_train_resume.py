"""Resume after a crash: a run killed (SIGKILL) or stopped (SIGTERM) at a random step and resumed
with `promptc train FILE --resume RUN` ends with the bytes of an uninterrupted run; the run
directory is locked while written; a changed task or a finished run is not resumed."""
from __future__ import annotations

import multiprocessing
import os
import random
import signal

import pytest
from click.testing import CliRunner

from promptdsl.cli import main
from promptdsl.train.loop import TrainingLoop
from promptdsl.train.rundir import RunLock
from promptdsl.train.runner import train_task

WORDS = ["great", "terrible", "fine", "awful", "good", "bad", "nice", "poor"]
ROWS = [(f"{WORDS[i % 8]} film number {i}", str(i % 2 if i % 8 < 4 else 1 - i % 2))
        for i in range(24)]

PROMPT = """
task tiny {{
  model: "{model}"
  data {{ train: "train.tsv"  validation: "dev.tsv"  test: "test.tsv"  label: label }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{ "0": "terrible"  "1": "great" }}
  method prompt_tuning {{ length: 2 }}
  train {{
    epochs: 3
    batch_size: 4
    learning_rate: 0.05
    eval_every: 4
    device: cpu
    {extra}
  }}
}}
"""

COMPARED = ("predictions.tsv", "metrics.jsonl", "checkpoint/trainable.safetensors")


def project(folder, model, extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.tsv", ROWS), ("dev.tsv", ROWS[:8]), ("test.tsv", ROWS[8:16])):
        lines = ["sentence\tlabel", *(f"{s}\t{label}" for s, label in rows)]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = folder / "tiny.prompt"
    path.write_text(PROMPT.format(model=model, extra=extra), encoding="utf-8")
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _child(args, kill_at, signum):
    """Run `promptc` in this (forked) process and send `signum` to itself at step `kill_at`."""
    original = TrainingLoop._optimizer_step

    def step(self, *a, **k):
        original(self, *a, **k)
        if self.result.steps == kill_at:
            os.kill(os.getpid(), signum)
    TrainingLoop._optimizer_step = step
    result = CliRunner().invoke(main, args)
    with open(os.environ.get("RESUME_TEST_OUTPUT", os.devnull), "w") as handle:
        handle.write(result.output)
    os._exit(result.exit_code)


def run_interrupted(args, kill_at, signum) -> int:
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=([str(a) for a in args], kill_at, signum))
    process.start()
    process.join(120)
    assert not process.is_alive()
    return process.exitcode


@pytest.fixture
def runs(tmp_path, tiny_model_dir):
    """(prompt file, the uninterrupted run's folder) with train.save_every: 3."""
    path = project(tmp_path / "p", tiny_model_dir("bert"), "save_every: 3")
    reference = tmp_path / "reference"
    result = invoke("train", path, "--out", reference)
    assert result.exit_code == 0, result.output
    assert not (reference / "state").exists()       # a finished run keeps no state
    return path, reference


def assert_same_run(run, reference):
    for name in COMPARED:
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    assert not (run / ".lock").exists() and not (run / "state").exists()


def test_sigkill_at_a_random_step_then_resume_gives_the_same_bytes(runs, tmp_path):
    path, reference = runs
    # 18 steps (3 epochs of 6 batches); the kill comes right after a step's update, and the
    # first state is written at the end of step 3, so a run killed from step 4 on has one
    kill_at = random.Random().randint(4, 17)
    run = tmp_path / "killed"
    code = run_interrupted(["train", path, "--out", run], kill_at, signal.SIGKILL)
    assert code == -signal.SIGKILL, f"step {kill_at}"
    assert not (run / "summary.json").exists()
    result = invoke("train", path, "--resume", run)
    assert result.exit_code == 0, (kill_at, result.output)
    assert_same_run(run, reference)


def test_a_run_killed_before_it_wrote_anything_has_nothing_to_resume(runs, tmp_path):
    path, _ = runs
    run = tmp_path / "early"
    assert run_interrupted(["train", path, "--out", run], 1, signal.SIGKILL) == -signal.SIGKILL
    assert not run.exists()
    result = invoke("train", path, "--resume", run)
    assert result.exit_code == 2
    assert "no such run directory" in result.output and "start it again with --out" in \
        result.output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_save_a_state_and_say_how_to_resume(runs, tmp_path, signum,
                                                              monkeypatch):
    path, reference = runs
    run = tmp_path / "stopped"
    said = tmp_path / "output.txt"
    monkeypatch.setenv("RESUME_TEST_OUTPUT", str(said))
    code = run_interrupted(["train", path, "--out", run], 5, signum)
    assert code == 128 + signum
    assert f"at step 5; the state is saved: resume with `promptc train {path} --resume {run}`" \
        in said.read_text()
    assert (run / "state" / "train-0.safetensors").is_file()
    from promptdsl.train.state import read_state
    assert read_state(run / "state" / "train-0.safetensors")[1]["step"] == 5
    result = invoke("train", path, "--resume", run)
    assert result.exit_code == 0, result.output
    assert "resume: training continues at step 5" in result.output
    assert_same_run(run, reference)


def test_default_state_each_epoch(tmp_path, tiny_model_dir):
    path = project(tmp_path / "p", tiny_model_dir("bert"))
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert invoke("train", path, "--out", reference).exit_code == 0
    assert run_interrupted(["train", path, "--out", run], 8, signal.SIGKILL) == -signal.SIGKILL
    from promptdsl.train.state import read_state
    assert read_state(run / "state" / "train-0.safetensors")[1]["step"] == 6   # epoch 1's end
    assert invoke("train", path, "--resume", run).exit_code == 0
    assert_same_run(run, reference)


def test_a_locked_run_directory_is_refused(runs, tmp_path):
    path, _ = runs
    run = tmp_path / "busy"
    assert run_interrupted(["train", path, "--out", run], 4, signal.SIGKILL) == -signal.SIGKILL
    lock = RunLock.acquire(run)          # as if another process were writing it
    try:
        result = invoke("train", path, "--resume", run)
    finally:
        lock.release()
    assert result.exit_code == 2
    assert f"in use by process {os.getpid()}" in result.output
    assert "Traceback" not in result.output


def test_resume_refuses_a_changed_task_and_keeps_a_finished_run(runs):
    path, reference = runs
    before = {p: p.read_bytes() for p in reference.rglob("*") if p.is_file()}
    changed = invoke("train", path, "--resume", reference, "--set", "train.epochs=4")
    assert changed.exit_code == 2
    assert "`train.epochs`: 4 now, 3 then" in changed.output
    again = invoke("train", path, "--resume", reference)
    assert again.exit_code == 0 and "finished already" in again.output
    assert {p: p.read_bytes() for p in reference.rglob("*") if p.is_file()} == before


def test_resume_needs_a_run_directory_and_not_out(runs, tmp_path):
    path, reference = runs
    missing = invoke("train", path, "--resume", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "no such run directory" in missing.output
    both = invoke("train", path, "--resume", reference, "--out", tmp_path / "x")
    assert both.exit_code == 2 and "not both" in both.output


def _pet_child(task, out, slot, step):
    original = TrainingLoop._optimizer_step

    def kill(self, *a, **k):
        original(self, *a, **k)
        if self.slot.key == slot and self.result.steps == step:
            os.kill(os.getpid(), signal.SIGKILL)
    TrainingLoop._optimizer_step = kill
    train_task(task, out=out, progress=False, echo=lambda _: None)
    os._exit(0)


def test_pet_resumes_past_its_finished_members(tmp_path, tiny_model_dir):
    """PET trains one loop per member and one for distillation: a kill in the distillation
    loop resumes with the members' saved tensors and ends as the uninterrupted run does."""
    import tiny
    rows = [(f"It was great . {w}", "1") for w in tiny.WORDS[:8]] + \
        [(f"How far is it ? {w}", "0") for w in tiny.WORDS[:8]]
    task = tiny.pet_task(tiny_model_dir("gpt2"), tmp_path, rows, {"distill": True},
                         {"max_steps": 3, "save_every": 1})
    reference, run = tmp_path / "reference", tmp_path / "run"
    train_task(task, out=reference, progress=False, echo=lambda _: None)
    child = multiprocessing.get_context("fork").Process(target=_pet_child,
                                                        args=(task, run, "train-2", 2))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    said = []
    train_task(task, out=run, progress=False, echo=said.append, resume=True)
    assert any("train-0 finished before" in line for line in said)
    for name in ("predictions.tsv", "metrics.jsonl", "ensemble/checkpoint.json",
                 "checkpoint/trainable.safetensors"):
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name


def _sweep_child(args, kill_after):
    original = TrainingLoop._optimizer_step
    done = []

    def step(self, *a, **k):
        original(self, *a, **k)
        done.append(1)
        if len(done) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    TrainingLoop._optimizer_step = step
    CliRunner().invoke(main, args)
    os._exit(0)


def test_a_sweep_resumes_its_unfinished_points(tmp_path, tiny_model_dir):
    path = project(tmp_path / "p", tiny_model_dir("bert"), "save_every: 2")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("sweep tiny { train.seed: [1, 2] }\n")
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert invoke("train", path, "--out", reference).exit_code == 0
    child = multiprocessing.get_context("fork").Process(
        target=_sweep_child, args=(["train", str(path), "--out", str(run)], 18 + 7))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    points = sorted(p.name for p in reference.iterdir() if p.is_dir())
    assert len(points) == 2 and (run / points[0] / "summary.json").is_file()
    assert not (run / points[1] / "summary.json").exists()
    result = invoke("train", path, "--resume", run)
    assert result.exit_code == 0, result.output
    assert "finished already" in result.output
    for point in points:
        assert_same_run(run / point, reference / point)
    assert (run / "sweep.json").is_file()


GENERATION_PROMPT = """
task gen {{
  model: "{model}"
  data {{ train: "gen.tsv"  validation: "gen.tsv"  test: "gen.tsv" }}
  template: "{{mr}} Text: [MASK]"
  target: "{{ref}}"
  method prompt_tuning {{ length: 2 }}
  generate {{ max_new_tokens: 4 }}
  train {{ epochs: 4  batch_size: 2  learning_rate: 0.05  save_every: 2  device: cpu }}
}}
"""


def test_a_generation_run_resumes_to_the_same_bytes(tmp_path, tiny_model_dir):
    """A generation task (teacher-forced target, validation by generating) killed at a random
    step and resumed ends as the uninterrupted run: metrics, predictions, tensors."""
    import tiny
    tiny.write_tsv(tmp_path, tiny.GEN_ROWS, columns=("mr", "ref"), name="gen.tsv")
    path = tmp_path / "gen.prompt"
    path.write_text(GENERATION_PROMPT.format(model=tiny_model_dir("gpt2")), encoding="utf-8")
    reference = tmp_path / "reference"
    assert invoke("train", path, "--out", reference).exit_code == 0
    kill_at = random.Random().randint(3, 11)      # 12 steps; the first state is at step 2
    run = tmp_path / "killed"
    assert run_interrupted(["train", path, "--out", run], kill_at, signal.SIGKILL) == \
        -signal.SIGKILL
    result = invoke("train", path, "--resume", run)
    assert result.exit_code == 0, (kill_at, result.output)
    assert_same_run(run, reference)

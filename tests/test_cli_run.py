"""`promptc train | eval | predict` end to end on a tiny model and a .prompt file."""
from __future__ import annotations

import csv
import json

import pytest
import torch
from click.testing import CliRunner

from promptdsl.cli import main



ROWS = [("a great movie", "1"), ("a terrible movie", "0"), ("great , really great", "1"),
        ("terrible , just terrible", "0"), ("it was great", "1"), ("it was terrible", "0")]

PROMPT = """
task tiny {{
  model: "{model}"
  data {{
    train: "train.tsv"
    test: "test.tsv"
    label: label
  }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{
    "0": "terrible"
    "1": "great"
  }}
  method finetune {{ }}
  train {{
    epochs: 2
    batch_size: 4
    learning_rate: 1e-3
    device: cpu
  }}
}}
"""


@pytest.fixture
def project(tmp_path, tiny_model_dir, write_tsv):
    write_tsv(ROWS, name="train.tsv")
    write_tsv(ROWS, name="test.tsv")
    path = tmp_path / "tiny.prompt"
    path.write_text(PROMPT.format(model=tiny_model_dir("bert")), encoding="utf-8")
    return tmp_path


def read_tsv(path) -> list:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def test_train_eval_predict(project):
    out = project / "run"
    result = run("train", project / "tiny.prompt", "--out", out)
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "F1[0]" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train"]["steps"] == 4 and summary["device"] == "cpu"
    assert summary["parameters"]["trainable"] == summary["parameters"]["total"]
    checkpoint = out / "checkpoint"
    assert summary["checkpoint_bytes"] == sum(p.stat().st_size for p in checkpoint.rglob("*")
                                              if p.is_file())
    # fp32 tensors of every trained parameter are in it
    assert (checkpoint / "trainable.safetensors").stat().st_size >= \
        4 * summary["parameters"]["trainable"]

    result = run("eval", project / "tiny.prompt", "--checkpoint", out)
    assert result.exit_code == 0, result.output
    accuracy = f"{100 * summary['test']['accuracy']:.2f}"
    assert accuracy in result.output.splitlines()[-1]

    result = run("predict", project / "tiny.prompt", "--checkpoint", out,
                 "--text", "a great film", "--text", "a terrible film")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[0] == ["sentence", "prediction", "p(0)", "p(1)"]
    assert [line[0] for line in lines[1:]] == ["a great film", "a terrible film"]
    from promptdsl.train.checkpoint import load_checkpoint
    model = load_checkpoint(out)
    assert [line[1] for line in lines[1:]] == model.predict(["a great film", "a terrible film"])
    probabilities = model.scores(["a great film", "a terrible film"]).softmax(-1)
    assert torch.allclose(torch.tensor([[float(p) for p in line[2:]] for line in lines[1:]]),
                          probabilities, atol=1e-5)

    result = run("predict", project / "tiny.prompt", "--checkpoint", out / "checkpoint",
                 "--input", project / "test.tsv", "--output", project / "pred.tsv")
    assert result.exit_code == 0, result.output
    predicted = read_tsv(project / "pred.tsv")
    trained = read_tsv(out / "predictions.tsv")      # what the run wrote for the same rows
    assert len(predicted) == len(ROWS)
    for key in ("prediction", "p(0)", "p(1)"):
        assert [r[key] for r in predicted] == [r[key] for r in trained], key


def test_set_overrides_a_field(project):
    result = run("train", project / "tiny.prompt", "--out", project / "run",
                 "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    assert json.loads((project / "run" / "summary.json").read_text())["train"]["steps"] == 2


def test_bad_data_is_exit_2_with_file_and_line(project):
    (project / "test.tsv").write_text("sentence\tlabel\na great movie\t1\nragged\t0\textra\n")
    result = run("train", project / "tiny.prompt", "--out", project / "run")
    assert result.exit_code == 2, result.output
    assert "test.tsv:3:" in result.stderr and result.stderr.startswith("error")
    assert "Traceback" not in result.output
    assert not (project / "run").exists()  # failed before anything was written


def test_an_existing_run_dir_keeps_its_files(project):
    out = project / "run"
    out.mkdir()
    (out / "summary.json").write_text('{"keep": true}')
    result = run("train", project / "tiny.prompt", "--out", out)
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert (out / "summary.json").read_text() == '{"keep": true}'
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]


def test_predict_needs_text_or_input(project):
    assert run("train", project / "tiny.prompt", "--out", project / "run").exit_code == 0
    result = run("predict", project / "tiny.prompt", "--checkpoint", project / "run")
    assert result.exit_code == 2 and "--text" in result.stderr


def test_missing_file_is_a_clean_error(project):
    result = run("train", project / "nope.prompt")
    assert result.exit_code == 2 and "nope.prompt: no such file" in result.stderr


def test_missing_checkpoint_is_a_clean_error(project):
    result = run("eval", project / "tiny.prompt", "--checkpoint", project / "nowhere")
    assert result.exit_code == 2 and "no such checkpoint" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_a_clean_error(project):
    result = run("train", project / "tiny.prompt", "--out", project / "run", "--device", "cuda")
    assert result.exit_code == 2 and "torch sees no GPU" in result.stderr
    assert not (project / "run").exists()


def test_a_row_that_cannot_fit_fails_before_the_run_dir_exists(project, write_tsv):
    long_row = (" ".join(["great"] * 60), "1")
    write_tsv(ROWS + [long_row], name="test.tsv")
    prompt = (project / "tiny.prompt").read_text().replace("{sentence}", "{sentence|keep}")
    (project / "tiny.prompt").write_text(prompt)
    result = run("train", project / "tiny.prompt", "--out", project / "run",
                 "--set", "train.max_length=32")
    assert result.exit_code == 2, result.output
    assert f"test.tsv:{len(ROWS) + 2}:" in result.stderr and "max_length" in result.stderr
    assert "Traceback" not in result.output and not (project / "run").exists()

"""Generation runs end to end: train_task's run directory (predictions.tsv, summary.json, best
epoch by a text metric), evaluation and prediction from its checkpoint, the errors a
generation task can meet, and `promptc train | eval | predict` on a generation file."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import tiny
from promptdsl.cli import main
from promptdsl.data import Table, read_table
from promptdsl.errors import DataError, ModelError
from promptdsl.model.generation import generate_texts
from promptdsl.train.checkpoint import load_checkpoint
from promptdsl.train.inference import evaluate_checkpoint, predict_table
from promptdsl.train.rundir import tsv_cell
from promptdsl.train.runner import train_task
from promptdsl.train.trainer import NonFiniteLoss
# the sharpened tiny models, the data file and the stop-answer work-around are shared
from test_generation import CPU, INPUTS, gen_model_dir, gen_tsv  # noqa: F401

# finetune learns enough in 8 epochs for ROUGE to move (and to drop again at this constant lr)
TRAIN = {"epochs": 8, "batch_size": 6, "learning_rate": 3e-2, "warmup_ratio": 0.0,
         "schedule": "constant", "device": "cpu", "precision": "fp32"}


def quiet(text):
    pass


def read_tsv(path) -> list:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def run_task(model_dir, data, out, **kwargs):
    task = tiny.gen_task(model_dir, train=data, test=data, methods=["finetune"],
                         train_options=TRAIN, generate={"max_new_tokens": 10}, **kwargs)
    return task, train_task(task, out=out, progress=False, echo=quiet)


@pytest.fixture(scope="module")
def finished_run(gen_model_dir, gen_tsv, tmp_path_factory):
    """(task, summary, run directory) of a finetuned gpt2 generation run (metric rouge)."""
    out = tmp_path_factory.mktemp("gen-run") / "run"
    task, summary = run_task(gen_model_dir("gpt2"), gen_tsv, out, metric="rouge")
    return task, summary, out


# ---------------------------------------------------------------- 6. runs

def test_a_run_writes_one_prediction_per_distinct_input(finished_run):
    task, summary, out = finished_run
    assert set(summary["test"]) == {"bleu", "rouge", "loss"}
    assert summary["test"]["rouge"] > 0 and summary["test"]["loss"] < 6   # it learnt something
    rows = read_tsv(out / "predictions.tsv")
    assert list(rows[0]) == ["line", "mr", "prediction", "reference", "references"]
    # GEN_ROWS: the inputs of lines 2-3 and 4-5 have two references each
    assert [(r["line"], r["mr"], r["reference"], r["references"]) for r in rows] == \
        [(str(line), tiny.GEN_ROWS[line - 2][0], tiny.GEN_ROWS[line - 2][1], str(n))
         for line, n in ((2, 2), (4, 2), (6, 1), (7, 1))]
    model = load_checkpoint(out)
    texts = generate_texts(model, [INPUTS[i] for i in (0, 2, 4, 5)])
    assert [r["prediction"] for r in rows] == [tsv_cell(t) for t in texts]
    assert any(texts)


def test_eval_of_the_checkpoint_reproduces_the_run(finished_run):
    task, summary, out = finished_run
    name, table, result = evaluate_checkpoint(task, out, device="cpu", progress=False)
    assert name == "test" and result.metrics == summary["test"]
    assert [tsv_cell(p) for p in result.predictions] == \
        [r["prediction"] for r in read_tsv(out / "predictions.tsv")]


def test_predict_gives_one_text_per_input_row(finished_run):
    _, _, out = finished_run
    model = load_checkpoint(out)
    table = Table("<input>", ["mr"], INPUTS, list(range(1, 7)), header_line=None)
    result = predict_table(model, CPU, table, progress=False)
    assert result.predictions == generate_texts(model, INPUTS) and len(result.predictions) == 6
    assert result.metrics == {}


def test_predict_ignores_a_target_column(finished_run, gen_tsv):
    _, _, out = finished_run
    model = load_checkpoint(out)
    result = predict_table(model, CPU, read_table(gen_tsv), progress=False)
    assert result.predictions == generate_texts(model, INPUTS)      # 6, one per row


def test_validation_keeps_the_epoch_with_the_best_rouge(finished_run, gen_model_dir, gen_tsv,
                                                        tmp_path):
    task = tiny.gen_task(gen_model_dir("gpt2"), train=gen_tsv, validation=gen_tsv,
                         test=gen_tsv, methods=["finetune"], metric="rouge",
                         train_options=TRAIN, generate={"max_new_tokens": 10})
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=quiet)
    records = [json.loads(line) for line in
               (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["split"] == "validation"]
    assert len(evals) == TRAIN["epochs"] and all({"rouge", "bleu", "loss"} <= set(r)
                                                 for r in evals)
    best = max(evals, key=lambda r: r["rouge"])          # the first of equal ones
    assert best["step"] < evals[-1]["step"], "the best epoch is the last: nothing is tested"
    assert min(evals, key=lambda r: r["loss"])["step"] != best["step"]  # rouge decides, not loss
    assert summary["train"]["best_step"] == best["step"]
    assert [r["best"] for r in evals] == [r["rouge"] > max([-1] + [e["rouge"] for e in evals[:n]])
                                          for n, r in enumerate(evals)]
    assert summary["validation"] == {k: best[k] for k in summary["validation"]}
    # the best epoch's weights are restored: the test split (the same rows) scores as it did
    assert summary["test"]["rouge"] == best["rouge"]


# ---------------------------------------------------------------- 7. errors

def test_a_masked_lm_cannot_generate(tiny_model_dir, gen_tsv, tmp_path):
    with pytest.raises(ModelError, match="masked LM.*cannot generate a target"):
        run_task(tiny_model_dir("bert"), gen_tsv, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_shots_on_a_generation_task_is_a_data_error(tiny_model_dir, gen_tsv, tmp_path):
    with pytest.raises(DataError, match="data.shots.*no labels"):
        run_task(tiny_model_dir("gpt2"), gen_tsv, tmp_path / "run", shots=2)
    assert not (tmp_path / "run").exists()


def test_data_without_the_target_column_names_file_and_column(tiny_model_dir, tmp_path):
    data = tiny.write_tsv(tmp_path, [(mr,) for mr, _ in tiny.GEN_ROWS], ("mr",),
                          name="inputs.tsv")
    with pytest.raises(DataError) as error:
        run_task(tiny_model_dir("gpt2"), data, tmp_path / "run")
    assert f"{data}:1:" in str(error.value) and "'ref'" in str(error.value)
    assert not (tmp_path / "run").exists()


def test_a_nan_model_is_a_non_finite_loss_not_a_metric(gen_tsv, tmp_path):
    model, tokenizer = tiny.build_model("gpt2")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    model.save_pretrained(tmp_path / "nan")
    tokenizer.save_pretrained(tmp_path / "nan")
    task = tiny.gen_task(tmp_path / "nan", test=gen_tsv, methods=["zero_shot"],
                         train_options={"device": "cpu"}, generate={"max_new_tokens": 3})
    with pytest.raises(NonFiniteLoss, match="test targets is nan"):
        train_task(task, out=tmp_path / "run", progress=False, echo=quiet)
    assert not (tmp_path / "run" / "summary.json").exists()


# ---------------------------------------------------------------- 8. the command line

PROMPT = """task gen {{
  model: "{model}"
  data {{ train: "{data}", test: "{data}" }}
  template: "{{mr}} Text: [MASK]"
  target: "{{ref}}"
  metric: rouge
  method finetune {{ }}
  generate {{ max_new_tokens: 10 }}
  train {{ epochs: 8, batch_size: 6, learning_rate: 3e-2, warmup_ratio: 0, schedule: constant,
          device: cpu, precision: fp32 }}
}}
"""


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def metric_row(output: str) -> list:
    """The cells of the table's `test` row."""
    rows = [line.split() for line in output.splitlines() if line.split()[:1] == ["test"]]
    assert len(rows) == 1, output
    return rows[0]


def test_promptc_train_eval_predict_a_generation_file(gen_model_dir, gen_tsv, tmp_path):
    path = tmp_path / "gen.prompt"
    path.write_text(PROMPT.format(model=gen_model_dir("gpt2"), data=gen_tsv), encoding="utf-8")
    assert cli("check", path).exit_code == 0, cli("check", path).output
    out = tmp_path / "run"
    trained = cli("train", path, "--out", out)
    assert trained.exit_code == 0, trained.output
    header = next(line.split() for line in trained.output.splitlines()
                  if "bleu" in line.split())
    assert header == ["bleu", "rouge"], trained.output
    summary = json.loads((out / "summary.json").read_text())
    row = metric_row(trained.output)
    assert row == ["test", f"{100 * summary['test']['bleu']:.2f}",
                   f"{100 * summary['test']['rouge']:.2f}"]
    assert summary["test"]["rouge"] > 0

    evaluated = cli("eval", path, "--checkpoint", out)
    assert evaluated.exit_code == 0, evaluated.output
    assert metric_row(evaluated.output) == row

    predicted = cli("predict", path, "--checkpoint", out, "--text", "name : Aromi")
    assert predicted.exit_code == 0, predicted.output
    lines = [line.split("\t") for line in predicted.stdout.splitlines()]
    text = generate_texts(load_checkpoint(out), [{"mr": "name : Aromi"}])[0]
    assert lines == [["mr", "prediction"], ["name : Aromi", tsv_cell(text)]]

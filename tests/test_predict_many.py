"""`promptc predict` with several checkpoints (promptdsl.train.multi_predict): prompt checkpoints
of one backbone scored in one joined pass, the same probabilities each gives alone; the others
one after another."""
from __future__ import annotations

import csv

import pytest
import torch
from click.testing import CliRunner

import tiny
from promptdsl import api
from promptdsl.cli import main
from promptdsl.data import read_table
from promptdsl.train.checkpoint import read_checkpoint_task
from promptdsl.train.inference import load_for_inference, predict_table, table_from_texts
from promptdsl.train.multi_predict import checkpoints_of, joined_table, predict_many
from promptdsl.train.rundir import tsv_cell
from promptdsl.train.runner import train_task

TASK = """
task {name} {{
  model: "{model}"
  data {{
    train: "{data}"
    test: "{data}"
    label: label
  }}
  template: "{template}"
  verbalizer {{
    "0": "terrible"
    "1": "great"
  }}
  method {method} {{ {options} }}
  train {{
    device: cpu
    epochs: 1
    batch_size: 4
    eval_batch_size: 3
    learning_rate: 0.05
  }}
}}
"""
SOFT = "{sentence} <soft*3> It was [MASK]"
GENERATE = """
task gen {{
  model: "{model}"
  data {{
    test: "data.tsv"
  }}
  template: "{{sentence}} It was [MASK]"
  target: "{{label}}"
  generate {{
    max_new_tokens: 3
  }}
  method zero_shot {{ }}
  train {{
    device: cpu
  }}
}}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    """(the .prompt file, the data file, {run name: run directory}): two prompt-tuning runs
    of different seeds, a LoRA run, a zero-shot run that reads another field and a zero-shot
    generation run."""
    root = tmp_path_factory.mktemp("many")
    rows = [(s, str(i % 2)) for i, s in enumerate(tiny.corpus()[:8])]
    data = tiny.write_tsv(root, rows)
    tiny.write_tsv(root, rows, columns=("text", "label"), name="other.tsv")
    model = tiny_model_dir("llama")
    text = "".join(TASK.format(name=name, model=model, template=template, method=method,
                               options=options, data=file)
                   for name, template, method, options, file in (
                       ("pt", SOFT, "prompt_tuning", "length: 0", "data.tsv"),
                       ("lora", "{sentence} It was [MASK]", "lora", "r: 2", "data.tsv"),
                       ("other", "{text} It was [MASK]", "zero_shot", "", "other.tsv")))
    text += GENERATE.format(model=model)
    path = root / "many.prompt"
    path.write_text(text, encoding="utf-8")
    done = {}
    for run, name, seed in (("seed1", "pt", 1), ("seed2", "pt", 2), ("lora", "lora", 1),
                            ("other", "other", 1), ("gen", "gen", 1)):
        task = api.load(str(path), task=name, overrides={"train.seed": seed})
        train_task(task, out=root / run, progress=False, echo=lambda text: None)
        done[run] = root / run
    return path, data, done


def _alone(run, table):
    model, device = load_for_inference(run, "cpu")
    return predict_table(model, device, table, progress=False)


def _predict(runs, names):
    path, data, done = runs
    table = read_table(data)
    found = checkpoints_of([done[n] for n in names])
    return table, *predict_many(found, table, "cpu", progress=False)


def test_a_joined_pass_gives_each_checkpoints_own_probabilities(runs):
    table, found, stats = _predict(runs, ["seed1", "seed2"])
    assert stats["joined_reads"] > 0 and stats["alone"] == {}
    alone = [_alone(runs[2][n], table) for n in ("seed1", "seed2")]
    assert not torch.allclose(alone[0].probabilities, alone[1].probabilities, atol=1e-4)
    for checkpoint, own in zip(found, alone):
        assert torch.allclose(checkpoint.result.probabilities, own.probabilities, atol=1e-5)
        assert checkpoint.result.predictions == own.predictions


def test_a_lora_checkpoint_runs_on_its_own_with_the_same_results(runs):
    table, found, stats = _predict(runs, ["seed1", "lora", "seed2"])
    assert stats["joined_reads"] > 0          # the two prompt checkpoints still join
    assert list(stats["alone"]) == ["lora"] and "LoRA" in stats["alone"]["lora"]
    for checkpoint in found:
        own = _alone(runs[2][checkpoint.name], table)
        assert torch.allclose(checkpoint.result.probabilities, own.probabilities, atol=1e-5)


def test_one_prompt_checkpoint_among_others_runs_on_its_own(runs):
    _, _, stats = _predict(runs, ["seed1", "lora"])
    assert stats["joined_reads"] == 0 and set(stats["alone"]) == {"seed1", "lora"}


def test_the_output_has_the_inputs_once_then_each_checkpoints_columns(runs, tmp_path):
    path, data, done = runs
    result = CliRunner().invoke(main, ["predict", str(path), "--checkpoint", str(done["seed1"]),
                                       "--checkpoint", str(done["lora"] / "checkpoint"),
                                       "--checkpoint", str(done["seed1"]),
                                       "--input", str(data), "--output", str(tmp_path / "p.tsv")])
    assert result.exit_code == 0, result.output
    assert "lora runs on its own" in result.stderr and "Traceback" not in result.output
    with open(tmp_path / "p.tsv", encoding="utf-8") as handle:
        lines = list(csv.reader(handle, delimiter="\t"))
    columns = ["prediction", "p(0)", "p(1)"]
    assert lines[0] == ["sentence", *[f"{c}[{run}]" for run in ("seed1", "lora", "seed1-2")
                                      for c in columns]]
    assert len(lines) == 1 + 8
    table = read_table(data)
    own = _alone(done["seed1"], table)
    assert [line[1] for line in lines[1:]] == own.predictions
    assert [line[1:4] for line in lines[1:]] == [line[7:10] for line in lines[1:]]
    assert [float(line[3]) for line in lines[1:]] == pytest.approx(
        own.probabilities[:, 1].tolist(), abs=1e-5)
    # the input has labels: a metrics row per checkpoint (on stdout, as the TSV went to a file)
    metrics = result.stdout.splitlines()
    assert "accuracy" in metrics[0]
    assert [line.split()[0] for line in metrics[2:]] == ["seed1", "lora", "seed1-2"]


def test_a_generation_checkpoint_adds_its_text_column(runs):
    path, data, done = runs
    result = CliRunner().invoke(main, ["predict", str(path), "--checkpoint", str(done["gen"]),
                                       "--checkpoint", str(done["seed1"]), "--input", str(data)])
    assert result.exit_code == 0, result.output
    assert "gen runs on its own (a generation task decodes" in result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[0] == ["sentence", "prediction[gen]", "prediction[seed1]", "p(0)[seed1]",
                        "p(1)[seed1]"]
    own = _alone(done["gen"], read_table(data))
    assert [line[1] for line in lines[1:9]] == [tsv_cell(text) for text in own.predictions]


def test_one_checkpoint_prints_what_it_printed_before(runs):
    path, data, done = runs
    result = CliRunner().invoke(main, ["predict", str(path), "--checkpoint", str(done["seed1"]),
                                       "--text", "a great movie", "--text", "it was terrible"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[0] == ["sentence", "prediction", "p(0)", "p(1)"]
    task = read_checkpoint_task(done["seed1"])
    own = _alone(done["seed1"], table_from_texts(task, ["a great movie", "it was terrible"]))
    assert [line[1] for line in lines[1:]] == own.predictions


def test_joined_table_lines_up_each_checkpoint_with_its_rows(runs):
    table, found, _ = _predict(runs, ["seed2", "seed1"])
    header, rows = joined_table(table, found)
    assert header[:2] == ["sentence", "prediction[seed2]"]
    assert [row[0] for row in rows] == [row["sentence"] for row in table.rows]
    assert [row[4] for row in rows] == found[1].result.predictions


@pytest.mark.parametrize("make, message", [
    (lambda done, root: ["--checkpoint", str(done["seed1"]), "--checkpoint",
                         str(root / "nowhere")], "nowhere: no such checkpoint"),
    (lambda done, root: ["--checkpoint", str(done["seed1"]), "--checkpoint",
                         str(done["other"])], "other: its task `other` reads the field(s) text"),
])
def test_bad_checkpoints_are_clean_errors(runs, make, message):
    path, data, done = runs
    result = CliRunner().invoke(main, ["predict", str(path), *make(done, path.parent),
                                       "--input", str(data)])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert "Traceback" not in result.output


def test_a_checkpoint_of_a_task_file_lacks_is_a_clean_error(runs):
    path, data, done = runs
    other = path.parent / "pt_only.prompt"
    other.write_text(path.read_text().split("task lora")[0], encoding="utf-8")  # pt only
    result = CliRunner().invoke(main, ["predict", str(other), "--checkpoint", str(done["seed1"]),
                                       "--checkpoint", str(done["lora"]), "--input", str(data)])
    assert result.exit_code == 1 and "has no task `lora`" in result.stderr, result.output
    assert "Traceback" not in result.output

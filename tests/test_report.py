"""`promptc report`: the HTML page from hand-made run directories (in the formats a real run
writes, checked against one real tiny run) and its clean errors."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptdsl.cli import Commands
from promptdsl.cli.report_cmd import report_command
from promptdsl.report import build_report
from promptdsl.report.read import tsv_unescape

LABELS = ("neg", "<pos>")      # a label that must be escaped


def metrics_line(step, split="validation", acc=0.5, **extra):
    return {"step": step, "epoch": step / 4, "train_loss": 1.0 / step, "learning_rate": 1e-3,
            "split": split, "accuracy": acc, "macro_f1": acc,
            "per_label_f1": {LABELS[0]: acc, LABELS[1]: acc}, "loss": 0.7, **extra}


def make_run(path, acc=0.75, finished=True, predictions=True):
    path.mkdir(parents=True)
    lines = [metrics_line(s, acc=acc - 0.1 / s) for s in (2, 4, 6)]
    final = {"step": 6, "split": "test", "accuracy": acc, "macro_f1": acc - 0.05,
             "per_label_f1": {LABELS[0]: 0.7, LABELS[1]: 0.8}, "loss": 0.5}
    (path / "metrics.jsonl").write_text(
        "".join(json.dumps(m) + "\n" for m in lines + ([final] if finished else [])))
    if finished:
        summary = {"task": "t<&>", "model": "tiny", "methods": ["finetune"], "seed": 1,
                   "metric": "accuracy", "eval": {"split": "test", "examples": 4},
                   "test": {k: v for k, v in final.items() if k not in ("step", "split")}}
        (path / "summary.json").write_text(json.dumps(summary))
    if predictions:
        (path / "predictions.tsv").write_text(
            "line\tgold\tprediction\tp(neg)\tp(<pos>)\n" + "".join(
                f"{i + 2}\t{g}\t{p}\t0.5\t0.5\n" for i, (g, p) in enumerate(
                    [("neg", "neg"), ("neg", "<pos>"), ("<pos>", "<pos>"), ("<pos>", "<pos>")])))
    return path


def make_sweep(path, accs=(0.6, 0.7, 0.8)):
    runs = []
    for seed, acc in enumerate(accs, 1):
        make_run(path / f"seed={seed}", acc=acc)
        runs.append({"point": {"train.seed": seed}, "run_dir": f"/elsewhere/seed={seed}",
                     "metrics": {"accuracy": acc, "macro_f1": acc}})
    (path / "sweep.json").write_text(json.dumps({
        "task": "few", "split": "test", "runs": runs,
        "aggregate": {"accuracy": {"mean": sum(accs) / 3, "std": 0.1, "values": list(accs)}}}))
    return path


def report(*args):
    """The command as `promptc` runs it: inside the CLI's clean-error wrapper."""
    group = Commands()
    group.add_command(report_command)
    return CliRunner().invoke(group, ["report", *map(str, args)])


def test_one_run_has_curves_metrics_confusion_and_f1(tmp_path):
    html = build_report([make_run(tmp_path / "run")])
    assert html.count("<svg") == 3          # curves, per-label F1, confusion matrix
    for fetches in ("<script", "<link", "<img", 'src="', 'href="http', "url(http"):
        assert fetches not in html          # self-contained: nothing is fetched
    assert "<td>t&lt;&amp;&gt;</td>" in html and "<td>&lt;pos&gt;</td>" in html
    assert "<pos>" not in html and "t<&>" not in html
    assert "<td class=n>75.00</td>" in html  # final accuracy
    assert "unfinished" not in html


def test_confusion_matrix_counts(tmp_path):
    from promptdsl.report.page import confusion_matrix, f1_from_confusion
    matrix = confusion_matrix(list(LABELS), ["neg", "neg", "<pos>", "<pos>"],
                              ["neg", "<pos>", "<pos>", "<pos>"])
    assert matrix == [[1, 1], [0, 2]]
    assert f1_from_confusion(matrix) == pytest.approx([2 / 3, 0.8])


def test_sweep_and_runs_side_by_side(tmp_path):
    html = build_report([make_run(tmp_path / "a", acc=0.5), make_sweep(tmp_path / "sw")])
    assert "runs side by side" in html and "few (sweep)" in html
    assert "mean 70.00 ± 10.00" in html     # the sweep plot's legend (sample std)
    assert "<td class=n>70.00</td><td class=n>10.00</td>" in html   # sweep.json's aggregate
    # comparison bars + points plot + 3 runs × 3 plots + the single run's 3
    assert html.count("<svg") == 1 + 1 + 9 + 3


def test_unfinished_run_is_reported_with_what_it_has(tmp_path):
    html = build_report([make_run(tmp_path / "u", finished=False, predictions=False)])
    assert "unfinished run" in html and html.count("<svg") == 1   # the curves so far


def test_multi_task_folder(tmp_path):
    make_run(tmp_path / "all" / "one")
    make_sweep(tmp_path / "all" / "two")
    html = build_report([tmp_path / "all"])
    assert "all/one" in html and "sweep all/two" in html


def test_cli_writes_default_out_in_current_folder(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    result = report(run)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in run.iterdir()) == ["metrics.jsonl", "predictions.tsv",
                                                     "summary.json"]   # run dir untouched
    assert report(run).exit_code == 0         # overwriting a report is fine


@pytest.mark.parametrize("damage, expected", [
    ("missing", "no such run directory"),
    ("empty", "not a run directory"),
    ("jsonl", "metrics.jsonl:2: corrupt JSON line"),
    ("summary", "summary.json:1: corrupt JSON"),
    ("tsv", "predictions.tsv:3: expected 5 cells, found 2"),
])
def test_bad_run_dirs_are_clean_located_errors(tmp_path, damage, expected):
    run = tmp_path / "run"
    if damage == "empty":
        run.mkdir()
    elif damage != "missing":
        make_run(run)
        name = {"jsonl": "metrics.jsonl", "summary": "summary.json",
                "tsv": "predictions.tsv"}[damage]
        lines = (run / name).read_text().splitlines(keepends=True)
        lines[1 if damage != "summary" else 0:] = ["{oops\n" if damage != "tsv" else "9\tneg\n"]
        (run / name).write_text("".join(lines) if damage != "tsv" else
                                lines[0] + "2\tneg\tneg\t1\t0\n" + "9\tneg\n")
    result = report(run, "--out", tmp_path / "r.html")
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_tsv_unescape_inverts_the_run_writer():
    from promptdsl.train.rundir import tsv_cell
    text = "a\tb\\n\nc\r"
    assert tsv_unescape(tsv_cell(text)) == text


def test_a_real_tiny_run(tmp_path, tiny_model_dir, write_tsv):
    """The formats above are those `promptc train` writes."""
    from promptdsl.cli import main
    write_tsv([("a great movie", "1"), ("a terrible movie", "0")] * 2, name="data.tsv")
    (tmp_path / "t.prompt").write_text(f"""task tiny {{
  model: "{tiny_model_dir('bert')}"
  data {{ train: "data.tsv" validation: "data.tsv" test: "data.tsv" label: label }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{ "0": "terrible" "1": "great" }}
  method finetune {{ }}
  train {{ epochs: 2 batch_size: 2 learning_rate: 1e-3 device: cpu eval_every: 1 }}
}}""")
    runner = CliRunner()
    result = runner.invoke(main, ["train", str(tmp_path / "t.prompt"), "--out",
                                  str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    html = build_report([tmp_path / "run"])
    assert html.count("<svg") == 3 and "confusion matrix" in html and "unfinished" not in html
    assert "4 examples, predictions.tsv" in html


def test_without_matplotlib_the_command_says_what_to_install(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)    # `import matplotlib` fails
    result = report(make_run(tmp_path / "run"), "--out", tmp_path / "r.html")
    assert result.exit_code == 2 and "pip install 'promptdsl[report]'" in result.output
    assert not (tmp_path / "r.html").exists()

"""found.prompt: a task IR written back in the language (`task_source`), the searched task a run
leaves (`write_found`), and `verbalizer auto` writing its found words."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

import tiny
from promptdsl.api import check, load_all
from promptdsl.ir.pipeline import analyse
from promptdsl.runtime import FoundError, SourceError, task_source, write_found
from promptdsl.syntax.fmt import format_text

ROOT = Path(__file__).resolve().parent.parent
# the shipped files, and the test examples that check clean (some are odd on purpose)
SHIPPED = sorted([*(ROOT / "tasks").glob("*.prompt"), *(ROOT / "examples").rglob("*.prompt"),
                  *(p for p in (ROOT / "tests" / "examples").glob("*.prompt")
                    if not analyse(str(p)).errors)])


def comparable(ir: dict) -> dict:
    """An IR less what the written file may change: its own path, and the sweep (not written)."""
    out = copy.deepcopy(ir)
    out.pop("file")
    out["sweep"] = None
    return out


def rebuilt(text: str, folder: Path, name: str = "found.prompt") -> dict:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    result = analyse(str(path))
    assert [str(d) for d in result.errors] == [], text
    (ir,) = result.tasks.values()
    return ir


def shipped_tasks() -> list:
    return [pytest.param(path, name, id=f"{path.relative_to(ROOT)}:{name}")
            for path in SHIPPED for name in load_all(str(path))]


@pytest.mark.parametrize("path,name", shipped_tasks())
def test_every_shipped_task_round_trips(path, name, tmp_path):
    ir = load_all(str(path))[name]
    text = task_source(ir, base_dir=tmp_path)
    assert re.search(r"^(import |task \w+ extends)", text, re.M) is None
    assert comparable(rebuilt(text, tmp_path)) == comparable(ir)
    assert format_text(text).changed is False        # already in `promptc fmt` layout


def test_paths_are_relative_to_base_dir_or_absolute(tmp_path):
    ir = load_all(str(ROOT / "tasks" / "sst2.prompt"))["sst2_16shot"]
    relative = task_source(ir, base_dir=ROOT / "tasks")
    assert 'train: "data/sst2/train.tsv"' in relative
    absolute = task_source(ir)
    assert f'train: {json.dumps(str(ROOT / "tasks" / "data/sst2/train.tsv"))}' in absolute
    # the absolute form builds to the same IR wherever it is saved
    assert comparable(rebuilt(absolute, tmp_path)) == comparable(ir)


def test_defaults_are_left_out():
    ir = load_all(str(ROOT / "tasks" / "sst2.prompt"))["sst2"]
    text = task_source(ir, name="other")
    assert text.startswith("task other {\n")
    for default in ("eval_batch_size", "max_length", "calibrate", "multi_token", "metric",
                    "sample_seed", "trust_remote_code"):
        assert default not in text


ODD = 'Q: "{sentence}"\\tsaid {{x}}\n\u2028é [MASK]\\'


def test_odd_strings_and_values_round_trip(tmp_path, make_task, write_tsv):
    data = write_tsv([("a film", "it's {x}"), ("a book", "mask")])
    ir = make_task(str(tmp_path), "{sentence} It was [MASK] .", train=data, test=data,
                   labels={"it's {x}": ["bad\\", "ter\trible"], "mask": ["good"]},
                   methods=[{"name": "prompt_tuning", "options": {"init": {"text": "It was"}}},
                            {"name": "lora", "options": {"target": ["q_proj", "v_proj"],
                                                          "dropout": 0.5, "r": 2}}],
                   train_options={"learning_rate": 3e-05, "max_grad_norm": None})
    ir["verbalizer"]["options"]["calibrate"] = "contextual"
    ir["trust_remote_code"] = True
    ir["template"]["text"] = ODD.replace("[MASK]", "<soft*2> [MASK]")
    text = task_source(ir, base_dir=tmp_path)
    back = rebuilt(text, tmp_path)
    assert back["template"]["text"] == ir["template"]["text"]
    assert back["verbalizer"] == ir["verbalizer"]
    assert back["methods"] == ir["methods"]
    assert back["train"] == ir["train"]
    assert back["model"] == ir["model"] and 'model: "."' in text
    assert back["trust_remote_code"] is True


def test_tagged_words_are_written_with_their_mask(tmp_path, make_task):
    ir = make_task("bert-base", "{sentence} [MASK:e1] x [MASK:rel]")
    ir["verbalizer"]["labels"] = [{"label": "A", "words": ["component", "part of"],
                                   "masks": ["e1", "rel"]}]
    assert '"A": e1 "component", rel "part of"' in task_source(ir)


def test_rules_answers_round_trip(tmp_path):
    ir = load_all(str(ROOT / "tasks" / "semeval.prompt"))["semeval_ptr"]
    pairs = dict.fromkeys((m, w) for e in ir["verbalizer"]["labels"]
                          for w, m in zip(e["words"], e["masks"]))
    ir["verbalizer"]["options"]["answers"] = [{m: w} for m, w in pairs]   # every rule's word
    text = task_source(ir, base_dir=tmp_path)
    assert 'answers: [e1 "cause", rel "causes", e2 "effect", ' in text
    assert comparable(rebuilt(text, tmp_path)) == comparable(ir)


@pytest.mark.parametrize("value,why", [(float("nan"), "cannot be written"),
                                       ({"a": 1, "b": 2}, "objects are one tag")])
def test_unwritable_values_are_clear_errors(make_task, value, why):
    ir = make_task("bert-base", methods=[{"name": "lora", "options": {"dropout": value}}])
    with pytest.raises(SourceError, match=why):
        task_source(ir)


# ---- write_found ----------------------------------------------------------------------------

def base_task(folder: Path, model: Path, make_task, sst2_tsv, **kwargs) -> dict:
    return make_task(model, "{sentence} <soft*2> [MASK]", train=sst2_tsv, test=sst2_tsv,
                     file=folder / "task.prompt", **kwargs)


def test_write_found_replaces_template_words_and_methods(tmp_path, tiny_model_dir, make_task,
                                                        sst2_tsv):
    ir = base_task(tmp_path, tiny_model_dir("gpt2"), make_task, sst2_tsv,
                   methods=["prompt_tuning"], verbalizer_kind="auto",
                   verbalizer_options={"words_per_label": 2, "calibrate": "contextual"})
    run = tmp_path / "run"
    run.mkdir()
    path = write_found(ir, run, template="{sentence} It was, [MASK]",
                       words={"0": ["bad", "bad", "awful"], "1": ["good"]},
                       drop_methods=["prompt_tuning"], note="searched by test\nscore 0.5")
    text = path.read_text(encoding="utf-8")
    assert path == run / "found.prompt"
    assert text.startswith("# searched by test\n# score 0.5\n\ntask tiny {")
    assert format_text(text).changed is False
    assert [str(d) for d in check([str(path)]) if d.is_error] == []
    found = load_all(str(path))["tiny"]
    assert found["template"]["text"] == "{sentence} It was, [MASK]"
    assert found["verbalizer"]["kind"] == "manual"
    assert found["verbalizer"]["options"]["calibrate"] == "contextual"   # kept: manual has it
    assert [e["words"] for e in found["verbalizer"]["labels"]] == [["bad", "awful"], ["good"]]
    assert [m["name"] for m in found["methods"]] == ["zero_shot"]
    assert found["data"]["train"] == ir["data"]["train"]                 # resolves from run/


def test_write_found_keeps_what_it_is_not_given(tmp_path, tiny_model_dir, make_task, sst2_tsv):
    ir = base_task(tmp_path, tiny_model_dir("gpt2"), make_task, sst2_tsv,
                   methods=["prompt_tuning", "lora"])
    found = load_all(str(write_found(ir, tmp_path, drop_methods="lora")))["tiny"]
    assert comparable(found)["template"] == ir["template"]
    assert found["verbalizer"] == ir["verbalizer"]
    assert [m["name"] for m in found["methods"]] == ["prompt_tuning"]


@pytest.mark.parametrize("kwargs,why", [
    ({"template": "{sentence} [MASK"}, "is not a template"),
    ({"words": {"2": ["x"]}}, "do not include"),
    ({"words": {"0": [" "]}}, "non-empty text"),
    ({"words": {"0": []}}, "non-empty text"),
    ({"template": "{sentence} [MASK] more text"}, "does not check clean"),   # causal: mask last
])
def test_write_found_refuses_what_cannot_build(tmp_path, tiny_model_dir, make_task, sst2_tsv,
                                               kwargs, why):
    ir = base_task(tmp_path, tiny_model_dir("gpt2"), make_task, sst2_tsv)
    with pytest.raises(FoundError, match=why):
        write_found(ir, tmp_path, **kwargs)


# ---- verbalizer auto ------------------------------------------------------------------------

AUTO_TASK = """task tiny {{
  model: "{model}"
  data {{ train: "train.tsv", test: "test.tsv" }}
  template: "{{sentence}} It was [MASK]"
  verbalizer auto {{
    "0": "terrible"
    "1": "great"
    words_per_label: 2
    candidates: 200
  }}
  method zero_shot {{ }}
  train {{ device: cpu }}
}}
"""


def test_auto_words_become_a_manual_found_prompt(tmp_path, tiny_model_dir, write_tsv):
    from click.testing import CliRunner
    from promptdsl.cli import main
    write_tsv(tiny.SST2_ROWS, name="train.tsv")
    write_tsv(tiny.SST2_ROWS[:6], name="test.tsv")
    source = tmp_path / "auto.prompt"
    source.write_text(AUTO_TASK.format(model=tiny_model_dir("gpt2")), encoding="utf-8")

    def promptc(*args):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.output
    promptc("train", source, "--out", tmp_path / "run")
    found = tmp_path / "run" / "found.prompt"
    assert "label words found by `verbalizer auto`" in found.read_text(encoding="utf-8")
    promptc("check", found)
    task = load_all(str(found))["tiny"]
    assert task["verbalizer"]["kind"] == "manual"
    assert "words_per_label" not in task["verbalizer"]["options"]
    searched = json.loads((tmp_path / "run" / "task.json").read_text(encoding="utf-8"))
    words = [e["words"] for e in task["verbalizer"]["labels"]]
    assert words != [e["words"] for e in searched["verbalizer"]["labels"]]   # not the seeds
    assert all(1 <= len(w) <= 2 for w in words)
    promptc("train", found, "--out", tmp_path / "again")
    # the same words as plain label words score the test rows as the search's run did
    assert (tmp_path / "again" / "predictions.tsv").read_text() == \
        (tmp_path / "run" / "predictions.tsv").read_text()
    assert not (tmp_path / "again" / "found.prompt").exists()


def test_auto_outside_a_run_writes_nothing(tmp_path, tiny_model_dir, write_tsv, monkeypatch):
    from promptdsl.train import build
    from promptdsl.train.prepare import prepare_model
    from promptdsl.data import read_table
    write_tsv(tiny.SST2_ROWS, name="train.tsv")
    write_tsv(tiny.SST2_ROWS[:6], name="test.tsv")
    source = tmp_path / "auto.prompt"
    source.write_text(AUTO_TASK.format(model=tiny_model_dir("gpt2")), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    model = build.build_model(load_all(str(source))["tiny"])
    prepare_model(model, train=read_table(str(tmp_path / "train.tsv")), echo=lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auto.prompt", "test.tsv",
                                                          "train.tsv"]

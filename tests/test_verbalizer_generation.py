"""`verbalizer generation`: label words scored as generated text (classification by generation)
on tiny causal and seq2seq models: the word scores are the models' own sequence
log-probabilities, training moves predictions, calibration and checkpoints work, and a masked
LM is refused by `check` and at build time."""
from __future__ import annotations

import pytest
import torch

import tiny
from promptdsl.data import Table
from promptdsl.errors import ModelError
from promptdsl.model.compile import compile_task

GENERATING = ("gpt2", "llama", "t5")
POS = [f"It was great . {w}" for w in tiny.WORDS[:12]]
NEG = [f"How far is it ? {w}" for w in tiny.WORDS[:12]]
ROWS = [{"sentence": t, "label": "pos"} for t in POS] + \
    [{"sentence": t, "label": "neg"} for t in NEG]
WORDS = {"pos": ["terrible", "very poor"], "neg": ["great"]}   # seeds point the wrong way round


def task_of(tiny_model_dir, name, calibrate="none", **kw):
    template = "{sentence} It was [MASK]" if name != "t5" else "{sentence} It was [MASK] ."
    task = tiny.make_task(tiny_model_dir(name), template, WORDS, verbalizer_kind="generation",
                          **kw)
    task["verbalizer"]["options"] = {"calibrate": calibrate}
    return task


def table(rows):
    return Table("<rows>", list(rows[0]), rows, list(range(2, len(rows) + 2)))


@pytest.mark.parametrize("name", GENERATING)
def test_word_scores_are_the_models_own_sequence_log_probabilities(tiny_model_dir, name):
    model = compile_task(task_of(tiny_model_dir, name))
    batch = model.collate(model.encode(ROWS[:3], labels=False))
    with torch.no_grad():
        scores = model.word_scores(batch)                   # [B, W]
    flat, lengths = model.verbalizer.sequences
    assert scores.shape == (3, len(lengths)) and max(lengths) >= 3   # "very poor" + end
    tokenizer, hf = model.tokenizer, model.hf_model()
    for row in range(3):
        prompt = batch["input_ids"][row][batch["attention_mask"][row].bool()]
        start = 0
        for w, n in enumerate(lengths.tolist()):
            word = torch.as_tensor(flat[start:start + n])
            start += n
            with torch.no_grad():
                if name == "t5":
                    decoder = torch.cat([batch["decoder_input_ids"][row], word])
                    logits = hf(input_ids=prompt[None], decoder_input_ids=decoder[None]).logits[0]
                    at = len(batch["decoder_input_ids"][row]) - 1
                else:
                    full = torch.cat([prompt, word])
                    logits = hf(input_ids=full[None]).logits[0]
                    at = len(prompt) - 1
            logp = torch.log_softmax(logits.float(), -1)
            expected = sum(float(logp[at + i, word[i]]) for i in range(n))
            assert float(scores[row, w]) == pytest.approx(expected, abs=1e-4), (tokenizer, w)


@pytest.mark.parametrize("name", GENERATING)
def test_training_moves_predictions_towards_the_labels(tiny_model_dir, name, tmp_path):
    from promptdsl.train.runner import train_task
    path = tiny.write_tsv(tmp_path, [(r["sentence"], r["label"]) for r in ROWS])
    task = task_of(tiny_model_dir, name, train=path, test=path, methods=["finetune"],
                   train_options={"epochs": 6, "batch_size": 8, "learning_rate": 3e-3})
    before = compile_task(task)
    untrained = sum(p == r["label"] for p, r in zip(before.predict(ROWS), ROWS)) / len(ROWS)
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    assert summary["test"]["accuracy"] >= 0.9 > untrained


def test_contextual_calibration_and_checkpoint_round_trip(tiny_model_dir, tmp_path):
    from promptdsl.train.checkpoint import load_checkpoint, save_checkpoint
    from promptdsl.train.prepare import prepare_model
    plain = compile_task(task_of(tiny_model_dir, "gpt2"))
    model = compile_task(task_of(tiny_model_dir, "gpt2", calibrate="contextual"))
    prepare_model(model, echo=lambda _: None)
    assert model.verbalizer.needs_calibration
    assert not torch.allclose(model.verbalizer.calibration,
                              torch.ones_like(model.verbalizer.calibration))
    calibrated, raw = model.scores(ROWS), plain.scores(ROWS)
    assert not torch.allclose(calibrated, raw)
    save_checkpoint(model, tmp_path / "ck")
    again = load_checkpoint(tmp_path / "ck")
    assert torch.allclose(again.scores(ROWS), calibrated, atol=1e-5)


def test_a_masked_lm_is_refused_at_build_and_by_check(tiny_model_dir, tmp_path):
    with pytest.raises(ModelError, match="needs a causal or seq2seq model"):
        compile_task(task_of(tiny_model_dir, "bert"))
    from promptdsl import api
    data = tiny.write_tsv(tmp_path, [(r["sentence"], r["label"]) for r in ROWS])
    file = tmp_path / "t.prompt"
    file.write_text(f'task t {{\n  model: "{tiny_model_dir("bert")}"\n'
                    f'  data {{ test: "{data}" }}\n  template: "{{sentence}} It was [MASK]."\n'
                    '  verbalizer generation { pos: "good"  neg: "bad" }\n'
                    '  method zero_shot { }\n}\n', encoding="utf-8")
    found = [(d.code, d.line, d.column) for d in api.check([file])]
    assert ("generation-model", 5, 14) in found


def test_multi_token_is_not_an_option_of_the_kind(tiny_model_dir):
    from promptdsl.registry import get_registry
    schema = get_registry().verbalizers["generation"].schema
    assert set(schema["properties"]) == {"calibrate"}

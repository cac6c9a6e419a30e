"""`multi_token: sequence`: a label word's full log-probability as the continuation of the
prompt (causal) or of the decoder prefix (seq2seq), every token of it, computed by hand from the
backbone's logits; `first` reads only the first token's; training moves the scores."""
from __future__ import annotations

import pytest
import torch

import tiny
from promptdsl.model.compile import compile_task

WORDS = {"0": ["very poor", "terrible"], "1": ["really good"]}    # multi-token words
ROWS = [{"sentence": s} for s, _ in tiny.SST2_ROWS[:5]]


def sequence_task(model_dir, multi_token="sequence", methods=None, words=WORDS):
    return tiny.make_task(model_dir, "{sentence} It was [MASK]", words, methods=methods,
                          verbalizer_options={"multi_token": multi_token})


def by_hand_causal(model, rows) -> torch.Tensor:
    features = model.encode(rows)
    words = [w for label in WORDS.values() for w in label]
    out = torch.zeros(len(rows), len(words))
    for b in range(len(rows)):
        ids = features.ids[features.offsets[b]:features.offsets[b + 1]].tolist()
        for w, word in enumerate(words):
            tokens = model.tokenizer(" " + word, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = model.backbone(input_ids=torch.tensor([ids + tokens])).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            out[b, w] = sum(float(logp[len(ids) - 1 + k, t]) for k, t in enumerate(tokens))
    return out


def by_hand_seq2seq(model, rows) -> torch.Tensor:
    batch = model.collate(model.encode(rows))
    prefix = batch["decoder_input_ids"][0].tolist()
    words = [w for label in WORDS.values() for w in label]
    ids_of = model.verbalizer.sequences
    flat, lengths = ids_of
    out = torch.zeros(len(rows), len(words))
    start = 0
    for w, n in enumerate(lengths):
        tokens = flat[start:start + n]
        start += n
        assert model.tokenizer.decode(tokens).strip() == words[w]
        with torch.no_grad():
            logits = model.backbone(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                decoder_input_ids=torch.tensor([prefix + tokens] * len(rows))).logits
        logp = torch.log_softmax(logits.float(), -1)
        for b in range(len(rows)):
            out[b, w] = sum(float(logp[b, len(prefix) - 1 + k, t]) for k, t in enumerate(tokens))
    return out


@pytest.mark.parametrize("name", ["llama", "gpt2", "t5"])
def test_sequence_scores_every_token_of_each_word(tiny_model_dir, name):
    model = compile_task(sequence_task(tiny_model_dir(name)))
    assert model.verbalizer.reads_sequences
    batch = model.collate(model.encode(ROWS))
    with torch.no_grad():
        got = model.word_scores(batch)
    expected = (by_hand_seq2seq if name == "t5" else by_hand_causal)(model, ROWS)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    # `first` reads one token at the mask: a different score for the multi-token words
    first = compile_task(sequence_task(tiny_model_dir(name), "first"))
    with torch.no_grad():
        logits, hidden = first.read(first.collate(first.encode(ROWS)))
        first_scores = first.verbalizer.project(logits, hidden)
    assert float((first_scores[:, 0] - got[:, 0]).abs().min()) > 1e-3


def test_sequence_label_scores_train(tiny_model_dir):
    task = sequence_task(tiny_model_dir("llama"), methods=[{"name": "lora",
                                                            "options": {"r": 2, "dropout": 0.0}}],
                         words={"0": ["very poor"], "1": ["really good"]})
    torch.manual_seed(0)                    # LoRA's initial weights
    model = compile_task(task)
    rows = [{"sentence": s, "label": label} for s, label in tiny.SST2_ROWS]
    batch = model.collate(model.encode(rows, labels=True))
    with torch.no_grad():
        before, first_loss = model.scores(rows), float(model(batch)["loss"])
    tiny.adam_steps(model, batch, 20, 0.1)
    with torch.no_grad():
        after, last_loss = model.scores(rows), float(model(batch)["loss"])
    assert last_loss < first_loss - 0.05
    assert (after.argmax(-1) != before.argmax(-1)).any()


@pytest.mark.parametrize("method", [{"name": "prompt_tuning", "options": {"length": 2}},
                                    {"name": "lora", "options": {"r": 2, "dropout": 0.0}}])
def test_seq2seq_encoder_runs_once_for_all_words(tiny_model_dir, method):
    """The encoder's states of a row serve all its words (one encoder call per batch), and the
    loss and gradients equal those of an encoder run for every (row, word) pair."""
    task = sequence_task(tiny_model_dir("t5"), methods=[method])
    shared, each = compile_task(task), compile_task(task)
    each.load_state_dict(shared.state_dict())
    each.backbone_kwargs_hooks.append(lambda batch, kwargs: None)   # no sharing: a hook edits
    rows = [{"sentence": s, "label": label} for s, label in tiny.SST2_ROWS[:6]]
    calls = []
    encoder = shared.hf_model().get_encoder()
    handle = encoder.register_forward_hook(lambda *a: calls.append(1))
    results = []
    for model in (shared, each):
        model.zero_grad()
        loss = model(model.collate(model.encode(rows, labels=True)))["loss"]
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                        if p.grad is not None}))
    handle.remove()
    assert len(calls) == 1
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-5, rtol=0)
    assert results[0][1].keys() == results[1][1].keys() and results[0][1]
    for key, grad in results[0][1].items():
        torch.testing.assert_close(grad, results[1][1][key], atol=1e-5, rtol=1e-4)

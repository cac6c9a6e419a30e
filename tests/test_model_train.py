"""Soft tokens train while the frozen model does not; label words (multi-token, leading space,
unrepresentable); save → rebuild → same predictions; same seed → same model."""
import pytest
import torch
from safetensors.torch import load_file, save_file

import tiny
from promptdsl.errors import ModelError
from promptdsl.model.compile import compile_task

TEXTS = ["it was fun", "a much longer sentence about the film and its music", "bad"]


def template_for(name, soft="<soft*2> "):
    if tiny.FAMILY_OF[name] == "causal":
        return f"{soft}{{sentence}} It was [MASK]"
    return f"{soft}{{sentence}} It was [MASK] ."


def build(tiny_model_dir, name, template=None, labels=None, **kw):
    kw.setdefault("methods", [])
    task = tiny.make_task(tiny_model_dir(name), template or template_for(name),
                          labels or {"0": ["terrible", "bad"], "1": ["great"]}, **kw)
    return compile_task(task)


def test_soft_tokens_get_gradient_and_frozen_weights_do_not_move(any_tiny_model, tiny_model_dir):
    name, _ = any_tiny_model
    model = build(tiny_model_dir, name)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable == [model.soft_prompt.weight]
    frozen = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    soft_before = model.soft_prompt.weight.detach().clone()
    optimizer = torch.optim.AdamW(trainable, lr=0.1)
    batch = model.collate(model.encode([{"sentence": t, "label": "1"} for t in TEXTS]))
    model.train()
    model(batch)["loss"].backward()
    assert model.soft_prompt.weight.grad is not None
    assert model.soft_prompt.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.parameters())
    optimizer.step()
    assert not torch.equal(model.soft_prompt.weight.detach(), soft_before)
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, frozen[key]), key


def test_soft_init_text_sets_count_and_embeddings(tiny_model_dir):
    model = build(tiny_model_dir, "roberta", "<soft 'It was'> {sentence} [MASK] .")
    ids = model.tokenizer("It was", add_special_tokens=False)["input_ids"]
    assert model.template.n_soft == len(ids) == 2
    emb = model.backbone.get_input_embeddings().weight
    torch.testing.assert_close(model.soft_prompt.weight.detach(), emb[ids])


def test_prepend_soft_adds_rows_and_a_first_piece(tiny_model_dir):
    model = build(tiny_model_dir, "gpt2", "<soft*2> {sentence} It was [MASK]")
    rows = model.template.prepend_soft(3, init={"text": "great"})
    assert list(rows) == [2, 3, 4] and model.soft_prompt.n_soft == 5
    assert model.template.pieces[0] == {"type": "soft", "count": 3, "init": "great", "first": 2}
    great = model.tokenizer("great", add_special_tokens=False)["input_ids"][0]
    emb = model.backbone.get_input_embeddings().weight
    assert torch.equal(model.soft_prompt.weight[2:].detach(), emb[[great] * 3])
    batch = model.collate(model.encode(TEXTS[:1]))
    assert batch["soft_ids"][0, :5].tolist() == [2, 3, 4, 0, 1]


@pytest.mark.parametrize("how", ["mean", "first", "max"])
def test_multi_token_label_words(tiny_model_dir, how):
    model = build(tiny_model_dir, "bert", labels={"0": ["terribly"], "1": ["great"]},
                  verbalizer_options={"multi_token": how})
    pieces = model.tokenizer("terribly", add_special_tokens=False)["input_ids"]
    assert len(pieces) == 4
    verbalizer = model.verbalizer
    assert verbalizer.word_ids[0, :4].tolist() == pieces and verbalizer.word_mask[0].sum() == 4
    logits = torch.randn(3, verbalizer.word_ids.max() + 10)
    logp = torch.log_softmax(logits, -1)[:, pieces]
    expected = {"mean": logp.mean(-1), "first": logp[:, 0], "max": logp.max(-1).values}[how]
    torch.testing.assert_close(verbalizer.project(logits, None)[:, 0], expected)


def test_several_words_per_label_average_their_log_probabilities(tiny_model_dir):
    model = build(tiny_model_dir, "gpt2", labels={"0": ["terrible", "bad"], "1": ["great"]})
    v = model.verbalizer
    logits = torch.randn(2, model.backbone.config.vocab_size)
    word_logp = torch.log_softmax(torch.log_softmax(logits, -1)[:, v.word_ids[:, 0]], -1)
    expected = torch.stack([word_logp[:, :2].mean(-1), word_logp[:, 2]], -1)
    torch.testing.assert_close(v(logits, None), expected)


@pytest.mark.parametrize("name", ["gpt2", "llama", "roberta"])
def test_label_word_after_a_space_is_the_spaced_token(tiny_model_dir, name):
    tok_of = lambda m, text: m.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    spaced = build(tiny_model_dir, name, template_for(name, ""), {"0": "bad", "1": "great"})
    assert spaced.verbalizer.word_ids[1, 0].item() == tok_of(spaced, " great")[0]
    assert spaced.tokenizer.convert_ids_to_tokens(tok_of(spaced, " great")) == ["Ġgreat"]
    if tiny.FAMILY_OF[name] == "causal":
        # the model reads the position right after "was": " great" is what it would predict
        batch = spaced.collate(spaced.encode(["fun"]))
        last = spaced.tokenizer.convert_ids_to_tokens(batch["input_ids"][0, -1:].tolist())
        assert last == ["Ġwas"]
    glued = build(tiny_model_dir, name, template_for(name, "").replace(" [MASK]", "[MASK]"),
                  {"0": "bad", "1": "great"})
    assert glued.verbalizer.word_ids[1, 0].item() == tok_of(glued, "great")[0]
    assert tok_of(glued, "great") != tok_of(glued, " great")


@pytest.mark.parametrize("word", ["zebra", "  "])
def test_unrepresentable_label_word_is_an_error(tiny_model_dir, word):
    with pytest.raises(ModelError) as err:
        build(tiny_model_dir, "bert", labels={"0": ["bad", word], "1": ["great"]})
    message = str(err.value)
    assert repr(word) in message and str(tiny_model_dir("bert")) in message


def test_save_rebuild_same_predictions(tiny_model_dir, tmp_path):
    model = build(tiny_model_dir, "llama", methods=["finetune"])
    with torch.no_grad():   # stand-in for training: move every trainable tensor
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    state = model.trainable_state_dict()
    assert set(state) == {n for n, p in model.named_parameters() if p.requires_grad}
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "t.safetensors"))
    before = model.scores(TEXTS)

    rebuilt = build(tiny_model_dir, "llama", methods=["finetune"])
    assert not torch.allclose(rebuilt.scores(TEXTS), before)
    missing, unexpected = rebuilt.load_state_dict(load_file(str(tmp_path / "t.safetensors")),
                                                  strict=False)
    assert not unexpected
    assert torch.equal(rebuilt.scores(TEXTS), before)
    assert rebuilt.predict(TEXTS) == model.predict(TEXTS)


def test_same_seed_same_model_other_seed_other_soft_tokens(tiny_model_dir):
    a = build(tiny_model_dir, "bert", train_options={"seed": 7})
    b = build(tiny_model_dir, "bert", train_options={"seed": 7})
    c = build(tiny_model_dir, "bert", train_options={"seed": 8})
    assert torch.equal(a.soft_prompt.weight, b.soft_prompt.weight)
    assert torch.equal(a.scores(TEXTS), b.scores(TEXTS))
    assert not torch.equal(a.soft_prompt.weight, c.soft_prompt.weight)


def test_contextual_calibration_makes_content_free_input_neutral(tiny_model_dir):
    model = build(tiny_model_dir, "roberta", verbalizer_options={"calibrate": "contextual"},
                  labels={"0": ["terrible"], "1": ["great"]})
    before = model.scores(["N/A"])[0]
    model.calibrate()
    after = model.scores(["N/A"])[0]
    assert not torch.allclose(before[0], before[1], atol=1e-4)
    # the calibration averages "N/A" and "": N/A alone ends close to, not exactly at, neutral
    assert (after[0] - after[1]).abs() < (before[0] - before[1]).abs()


def test_predict_takes_texts_and_rows(tiny_model_dir):
    model = build(tiny_model_dir, "t5")
    best = model.scores(TEXTS).argmax(-1).tolist()
    assert model.predict(TEXTS) == [model.labels[i] for i in best]
    rows = [{"sentence": text, "label": "whatever"} for text in TEXTS]   # the label is not read
    assert model.predict(rows) == model.predict(TEXTS)
    assert model.predict(rows[1]) == model.predict(TEXTS)[1:2]

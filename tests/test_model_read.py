"""The mask is read where each family predicts it: compared with direct backbone calls."""
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

import tiny
from promptdsl.model.compile import compile_task

TEXTS = ["it was fun", "a much longer sentence about the film and its music", "bad"]
LABELS = {"0": ["terrible", "bad"], "1": ["great"]}


def compiled(tiny_model_dir, name, template, labels=LABELS, **kw):
    task = tiny.make_task(tiny_model_dir(name), template, labels, methods=[], **kw)
    return compile_task(task)


@pytest.mark.parametrize("name", ["bert", "roberta"])
def test_mlm_reads_the_mask_token_position(tiny_model_dir, name):
    model = compiled(tiny_model_dir, name, "{sentence} It was [MASK] .")
    batch = model.collate(model.encode(TEXTS))
    rows = torch.arange(len(TEXTS))
    assert (batch["input_ids"][rows, batch["mask_pos"]] == model.tokenizer.mask_token_id).all()
    logits, hidden = model.read(batch)
    direct = AutoModelForMaskedLM.from_pretrained(tiny_model_dir(name)).eval()
    with torch.no_grad():
        full = direct(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(logits, full[rows, batch["mask_pos"]], rtol=1e-4, atol=1e-5)
    assert hidden.shape == (len(TEXTS), 32)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_causal_reads_the_last_real_token_despite_left_padding(tiny_model_dir, name):
    model = compiled(tiny_model_dir, name, "{sentence} It was [MASK]")
    batch = model.collate(model.encode(TEXTS))
    assert (batch["mask_pos"] == batch["input_ids"].shape[1] - 1).all()
    assert batch["attention_mask"][:, -1].all() and not batch["attention_mask"][:, 0].all()
    logits, _ = model.read(batch)
    direct = AutoModelForCausalLM.from_pretrained(tiny_model_dir(name)).eval()
    for i in range(len(TEXTS)):   # each example alone, unpadded: what the model really predicts
        ids = batch["input_ids"][i][batch["attention_mask"][i].bool()]
        with torch.no_grad():
            alone = direct(input_ids=ids[None]).logits[0, -1]
        torch.testing.assert_close(logits[i], alone, rtol=1e-4, atol=1e-4)


def test_seq2seq_reads_the_decoder_step_after_the_sentinel(tiny_model_dir):
    model = compiled(tiny_model_dir, "t5", "{sentence} It was [MASK] .")
    batch = model.collate(model.encode(TEXTS))
    sentinel = model.tokenizer.convert_tokens_to_ids("<extra_id_0>")
    start = model.backbone.config.decoder_start_token_id
    assert batch["decoder_input_ids"].tolist() == [[start, sentinel]] * len(TEXTS)
    assert ((batch["input_ids"] == sentinel).sum(1) == 1).all()
    logits, _ = model.read(batch)
    direct = AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir("t5")).eval()
    with torch.no_grad():
        full = direct(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      decoder_input_ids=batch["decoder_input_ids"]).logits
    torch.testing.assert_close(logits, full[:, 1], rtol=1e-4, atol=1e-5)


def test_label_scores_follow_the_mask_logits(any_tiny_model, tiny_model_dir):
    name, _ = any_tiny_model
    template = "{sentence} It was [MASK]" if tiny.FAMILY_OF[name] == "causal" else \
        "{sentence} It was [MASK] ."
    model = compiled(tiny_model_dir, name, template, {"0": "bad", "1": "great"})
    batch = model.collate(model.encode(TEXTS))
    logits, hidden = model.read(batch)
    ids = [model.verbalizer.word_ids[w, 0] for w in range(2)]
    logp = torch.log_softmax(logits, -1)[:, ids]
    expected = torch.log_softmax(logp, -1)       # normalised over the two label words
    torch.testing.assert_close(model(batch)["logits"], expected, rtol=1e-4, atol=1e-5)


def test_soft_tokens_enter_as_their_embeddings(tiny_model_dir):
    model = compiled(tiny_model_dir, "gpt2", "<soft*2> {sentence} It was [MASK]")
    batch = model.collate(model.encode(TEXTS[:1]))
    embeds = model.input_embeddings(batch)
    soft_positions = (batch["soft_ids"][0] >= 0).nonzero().flatten()
    assert len(soft_positions) == 2
    torch.testing.assert_close(embeds[0, soft_positions], model.soft_prompt())


def test_transformer_layers_of_every_family(any_tiny_model, tiny_model_dir):
    name, _ = any_tiny_model
    template = "{sentence} [MASK]"
    model = compiled(tiny_model_dir, name, template)
    assert len(model.transformer_layers()) == (4 if name == "t5" else 2)


def _other_architecture(name):
    """Tiny models of architectures beyond the five fixtures (no hard-coded list in the code:
    these only check that reading one position works whatever the head looks like)."""
    import transformers as tf
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2)
    if name == "distilbert":
        tok = tiny.build_tokenizer("bert")
        return tf.DistilBertForMaskedLM(tf.DistilBertConfig(
            vocab_size=len(tok), dim=32, n_layers=2, n_heads=2, hidden_dim=64)), tok
    if name == "opt":    # its LM calls the decoder directly, bypassing the base model's forward
        tok = tiny.build_tokenizer("gpt2")
        return tf.OPTForCausalLM(tf.OPTConfig(vocab_size=len(tok), ffn_dim=64,
                                              word_embed_proj_dim=32, **small)), tok
    if name == "qwen2":
        tok = tiny.build_tokenizer("llama")
        return tf.Qwen2ForCausalLM(tf.Qwen2Config(vocab_size=len(tok), intermediate_size=64,
                                                  num_key_value_heads=1, **small)), tok
    raise KeyError(name)


@pytest.mark.parametrize("name", ["distilbert", "opt", "qwen2"])
def test_read_position_matches_full_logits_on_other_architectures(name, tmp_path):
    torch.manual_seed(0)
    backbone, tokenizer = _other_architecture(name)
    backbone.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    causal = name != "distilbert"
    template = "<soft*2> {sentence} It was [MASK]" + ("" if causal else " .")
    model = compile_task(tiny.make_task(tmp_path, template, methods=[]))
    batch = model.collate(model.encode(TEXTS))
    logits, hidden = model.read(batch)
    with torch.no_grad():
        full = model.backbone(**model.backbone_kwargs(batch)).logits
    rows = torch.arange(len(TEXTS))
    torch.testing.assert_close(logits, full[rows, batch["mask_pos"]], rtol=1e-4, atol=1e-5)
    assert hidden.shape == (len(TEXTS), 32)

"""The Family objects decide everything family-specific: placement, padding, where the
prediction is read, the decoder input and the backbone call, checked on every tiny model."""
import json

import pytest
import torch

import tiny
from promptdsl import families
from promptdsl.data import Renderer
from promptdsl.errors import ModelError
from promptdsl.model.compile import compile_task

TEXTS = ["it was fun", "a much longer sentence about the film and its music", "bad"]
LABELS = {"0": "bad", "1": "great"}
MASK_LAST = "{sentence} It was [MASK]"
MASK_FIRST = "[MASK]: {sentence}"
TWO_MASKS = "{sentence} [MASK:a] so [MASK:b]"


def compiled(model_dir, template=MASK_LAST, **kw):
    return compile_task(tiny.make_task(model_dir, template, LABELS, methods=[], **kw))


def test_each_tiny_model_loads_through_its_familys_auto_class(any_tiny_model):
    import transformers
    name, model_dir = any_tiny_model
    config = json.loads((model_dir / "config.json").read_text())
    family = families.get(families.family_of_config(config))
    assert family.name == tiny.FAMILY_OF[name]
    model = compiled(model_dir, MASK_LAST)
    assert model.family == family.name          # the public attribute stays the name
    direct = getattr(transformers, family.auto_class).from_pretrained(model_dir)
    assert type(model.hf_model()) is type(direct)


@pytest.mark.parametrize("template,refused_by", [
    (MASK_LAST, set()), (MASK_LAST + " \n", set()), (MASK_FIRST, {"causal"}),
    (TWO_MASKS, {"causal"}), ("{sentence} It was [MASK] .", {"causal"})])
def test_placement_is_one_rule_for_check_compile_and_render(template, refused_by):
    pieces = tiny.pieces_from_text(template)
    for name in families.FAMILIES:
        why = families.get(name).placement_error(pieces)
        assert (why is not None) == (name in refused_by), (name, template)
        assert families.mask_placement_error(name, pieces) == why   # what check/compile call
    if "causal" in refused_by:
        with pytest.raises(ModelError) as err:
            Renderer(tiny.build_tokenizer("gpt2"), pieces, "causal")
        assert str(err.value) == families.get("causal").placement_error(pieces)


def test_the_compiler_refuses_what_the_family_refuses(tiny_model_dir):
    with pytest.raises(ModelError, match="model `.*` is causal: .*use one \\[MASK\\]"):
        compiled(tiny_model_dir("llama"), TWO_MASKS, mask="b")
    assert compiled(tiny_model_dir("bert"), TWO_MASKS, mask="b").renderer().read_step is not None


def test_read_position_padding_and_decoder_follow_the_family(any_tiny_model):
    name, model_dir = any_tiny_model
    model = compiled(model_dir, MASK_LAST if tiny.FAMILY_OF[name] == "causal"
                     else "{sentence} It was [MASK] .")
    family = families.get(model.family)
    features = model.encode(TEXTS)
    batch = model.collate(features)
    attention, mask_pos, rows = batch["attention_mask"], batch["mask_pos"], torch.arange(3)
    assert features.padding_side == family.padding_side
    padded_at = 0 if family.padding_side == "left" else -1
    assert not attention[:, padded_at].all() and attention[:, -1 - padded_at].all()
    if family.reads == families.AT_MASK:
        assert (batch["input_ids"][rows, mask_pos] == model.tokenizer.mask_token_id).all()
        assert "decoder_input_ids" not in batch
    elif family.reads == families.NEXT_TOKEN:
        last_real = attention.shape[1] - 1   # left padding: the last column is always real
        assert (mask_pos == last_real).all()
        words = model.tokenizer.convert_ids_to_tokens(batch["input_ids"][:, -1].tolist())
        assert all(w.lstrip("Ġ") == "was" for w in words)
        assert "decoder_input_ids" not in batch
    else:
        sentinel = model.tokenizer.convert_tokens_to_ids("<extra_id_0>")
        start = model.hf_model().config.decoder_start_token_id
        assert batch["decoder_input_ids"].tolist() == [[start, sentinel]] * 3
        assert family.decoder_prefix(start, 0, sentinel) == [start, sentinel]
        assert (mask_pos == batch["decoder_input_ids"].shape[1] - 1).all()
        assert ((batch["input_ids"] == sentinel).sum(1) == 1).all()


def test_backbone_kwargs_per_family(any_tiny_model):
    name, model_dir = any_tiny_model
    model = compiled(model_dir, MASK_LAST)
    family = families.get(model.family)
    batch = model.collate(model.encode(TEXTS))
    extra = family.backbone_kwargs(batch)
    expected = {"mlm": set(), "causal": {"use_cache", "position_ids"},
                "seq2seq": {"use_cache", "decoder_input_ids"}}[family.name]
    assert set(extra) == expected
    assert extra.get("use_cache", False) is False
    if "position_ids" in extra:   # left padding: the first real token is position 0
        first_real = batch["attention_mask"].argmax(1)
        assert (extra["position_ids"][torch.arange(3), first_real] == 0).all()
        assert (extra["position_ids"][:, -1] == batch["attention_mask"].sum(1) - 1).all()
    kwargs = model.backbone_kwargs(batch)
    assert all(kwargs[k] is extra[k] or torch.equal(kwargs[k], extra[k]) for k in extra
               if k != "use_cache")
    module = family.read_module(model.hf_model())
    assert module is (model.hf_model().get_decoder() if family.has_decoder
                      else model.hf_model().base_model)


def test_frame_keeps_what_the_family_keeps():
    assert families.get("mlm").frame([1], [2]) == ([1], [2])
    assert families.get("seq2seq").frame([], [2]) == ([], [2])
    assert families.get("causal").frame([1], [2]) == ([1], [])   # nothing after the read token


def test_mask_input_tokens_per_family():
    from promptdsl.data.tokens import mask_ids
    assert mask_ids(tiny.build_tokenizer("gpt2"), "causal", 1) == []
    bert = tiny.build_tokenizer("bert")
    assert mask_ids(bert, "mlm", 2) == [bert.mask_token_id] * 2
    t5 = tiny.build_tokenizer("t5")
    assert mask_ids(t5, "seq2seq", 2) == t5.convert_tokens_to_ids(["<extra_id_0>",
                                                                   "<extra_id_1>"])
    with pytest.raises(ModelError, match="no mask token, so a masked LM"):
        mask_ids(t5, "mlm", 1)


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown model family `bart`; known: mlm, causal, "
                                         "seq2seq"):
        families.get("bart")
    assert families.get(families.get("causal")) is families.get("causal")

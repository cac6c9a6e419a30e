"""The tiny fixture models load through the Auto classes and behave like their real families."""
import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

import tiny
from promptdsl.families import family_of_config


def test_every_tiny_model_loads_with_its_family(any_tiny_model):
    name, directory = any_tiny_model
    config = AutoConfig.from_pretrained(directory)
    assert family_of_config(config.to_dict()) == tiny.FAMILY_OF[name]
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert len(tokenizer) == config.vocab_size


@pytest.mark.parametrize("name", ["roberta", "gpt2", "llama"])
def test_byte_level_tokenizers_know_label_words_with_a_leading_space(name, tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir(name))
    for word in ("great", "terrible", "sports", "world", "yes", "no"):
        assert len(tokenizer(" " + word, add_special_tokens=False).input_ids) == 1, word


def test_t5_has_sentinels(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir("t5"))
    assert tokenizer.convert_tokens_to_ids("<extra_id_0>") != tokenizer.unk_token_id


def test_make_task_fills_every_section(tmp_path):
    task = tiny.make_task(tmp_path, "{sentence|keep} It was <soft*2> [MASK] .",
                          {"0": "bad", "1": ["great", "good"]})
    assert list(task) == ["name", "file", "model", "data", "template", "templates", "target",
                          "verbalizer", "methods", "train", "generate", "metric", "sweep"]
    kinds = [p["type"] for p in task["template"]["pieces"]]
    assert kinds == ["field", "text", "soft", "text", "mask", "text"]
    assert task["template"]["pieces"][0]["shortenable"] is False
    assert task["verbalizer"]["labels"][1] == {"label": "1", "words": ["great", "good"]}


def test_same_seed_same_weights():
    a, _ = tiny.build_model("gpt2", seed=3)
    b, _ = tiny.build_model("gpt2", seed=3)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k

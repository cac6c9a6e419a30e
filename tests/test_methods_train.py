"""Every tuning method on a masked, a causal and a seq2seq tiny model: a few training steps change
exactly the method's parameters (and nothing else), change the predictions, and a checkpoint
rebuilt from its task predicts identically."""
from __future__ import annotations

import pytest
import torch

import tiny
from promptdsl.model.compile import compile_task
from promptdsl.model.params import count
from promptdsl.train.checkpoint import load_checkpoint, save_checkpoint

ROWS = [{"sentence": s, "label": label} for s, label in tiny.SST2_ROWS]

# method -> (options, template, what may train: a test on a parameter name)
METHODS = {
    "prompt_tuning": ({"length": 4}, "{sentence} <soft> It was [MASK]",
                      lambda n: n == "soft_prompt.weight"),
    "ptuning": ({"encoder": "lstm", "hidden": 16}, "<soft*2> {sentence} <soft> It was [MASK]",
                lambda n: n.startswith("soft_prompt.")),
    "prefix": ({"length": 3, "hidden": 16}, "{sentence} It was [MASK]",
               lambda n: n.startswith("method_prefix.")),
    "adapter": ({"reduction": 4}, "{sentence} It was [MASK]",
                lambda n: n.startswith("method_adapters.")),
    "lora": ({"r": 2, "alpha": 4, "dropout": 0.0}, "{sentence} It was [MASK]",
             lambda n: ".lora_" in n),
}
MODELS = ("bert", "llama", "t5")


def build(tiny_model_dir, model_name, methods, template, **train):
    if tiny.FAMILY_OF[model_name] != "causal":
        template += " ."
    task = tiny.make_task(tiny_model_dir(model_name), template, methods=methods,
                          train_options=train or None)
    return compile_task(task)


def train_steps(model, steps=3, lr=3e-2):
    tiny.adam_steps(model, model.collate(model.encode(ROWS)), steps, lr)


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_trains_only_its_parameters_and_round_trips(tiny_model_dir, tmp_path,
                                                           model_name, method):
    options, template, intended = METHODS[method]
    model = build(tiny_model_dir, model_name, [{"name": method, "options": options}], template)
    # (an empty soft-token table stays trainable: the template's soft tokens train under every
    # method that trains)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad and p.numel()]
    assert trainable and all(intended(n) for n in trainable), trainable
    assert count(model).trainable == sum(p.numel() for n, p in model.named_parameters()
                                         if p.requires_grad)

    before_params = {n: p.detach().clone() for n, p in model.named_parameters()}
    before = model.scores(ROWS)
    train_steps(model)
    after = model.scores(ROWS)
    assert not torch.allclose(before, after, atol=1e-4), "predictions did not change"
    changed = [n for n, p in model.named_parameters() if not torch.equal(before_params[n], p)]
    assert changed and all(intended(n) for n in changed), changed

    save_checkpoint(model, tmp_path / "checkpoint")
    rebuilt = load_checkpoint(tmp_path / "checkpoint")
    torch.testing.assert_close(rebuilt.scores(ROWS), after, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_name", ("gpt2", "roberta"))
def test_prefix_and_lora_on_more_architectures(tiny_model_dir, model_name):
    for method in ("prefix", "lora", "adapter"):
        options, template, intended = METHODS[method]
        model = build(tiny_model_dir, model_name, [{"name": method, "options": options}],
                      template)
        before = model.scores(ROWS)
        train_steps(model)
        assert not torch.allclose(before, model.scores(ROWS), atol=1e-4), method

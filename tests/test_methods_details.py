"""What each method promises beyond training: composition, the P-tuning export, the peft adapter
folder and merge, prefix semantics, adapters' identity at init, clear errors."""
from __future__ import annotations

import pytest
import torch

import tiny
from promptdsl.errors import PromptdslError
from promptdsl.model.compile import compile_task
from promptdsl.registry import get_registry
from promptdsl.train.checkpoint import load_checkpoint, save_checkpoint
from test_methods_train import ROWS, train_steps


def build(tiny_model_dir, name, methods, template="{sentence} It was [MASK]"):
    return compile_task(tiny.make_task(tiny_model_dir(name), template, methods=methods))


def test_prompt_tuning_then_lora_compose(tiny_model_dir, tmp_path):
    model = build(tiny_model_dir, "llama", [
        {"name": "prompt_tuning", "options": {"length": 3, "init": {"text": "It was"}}},
        {"name": "lora", "options": {"r": 2, "dropout": 0.0}}])
    assert model.template.pieces[0] == {"type": "soft", "count": 3, "init": "It was", "first": 0}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train_steps(model)
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
    assert "soft_prompt.weight" in changed
    assert any(".lora_" in n for n in changed)
    assert all(n == "soft_prompt.weight" or ".lora_" in n for n in changed)
    save_checkpoint(model, tmp_path / "ckpt")
    torch.testing.assert_close(load_checkpoint(tmp_path / "ckpt").scores(ROWS),
                               model.scores(ROWS))


def test_lora_checkpoint_loads_in_peft_from_the_base_it_names(tiny_model_dir, tmp_path):
    """The peft folder is the one copy of the LoRA tensors, and its adapter_config.json names the
    folder the backbone was loaded from: peft alone rebuilds the trained backbone from it."""
    import json

    from peft import PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM
    model = build(tiny_model_dir, "gpt2", [{"name": "lora", "options": {"dropout": 0.0}}])
    train_steps(model)
    save_checkpoint(model, tmp_path / "ckpt")
    folder = tmp_path / "ckpt" / "lora"
    base = json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert base == str(tiny_model_dir("gpt2"))
    with safe_open(str(tmp_path / "ckpt" / "trainable.safetensors"), "pt") as stored:
        assert stored.keys() and not any(".lora_" in name for name in stored.keys())
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base),
                                           folder).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        torch.testing.assert_close(peft_model(input_ids=ids).logits,
                                   model.backbone(input_ids=ids).logits)
    torch.testing.assert_close(load_checkpoint(tmp_path / "ckpt").scores(ROWS),
                               model.scores(ROWS))


def test_lora_save_and_load_name_the_trainable_tensors(tiny_model_dir, tmp_path):
    from promptdsl_plugins.methods import lora
    model = build(tiny_model_dir, "llama", [{"name": "lora", "options": {"dropout": 0.0}}])
    train_steps(model)
    names = lora.save(model, {}, tmp_path)
    state = model.trainable_state_dict()
    assert sorted(names) == sorted(n for n in state if ".lora_" in n) and names
    fresh = build(tiny_model_dir, "llama", [{"name": "lora", "options": {"dropout": 0.0}}])
    loaded = lora.load(fresh, {}, tmp_path)
    assert set(loaded) == set(names)
    for name in names:
        torch.testing.assert_close(loaded[name], state[name])


def test_finetune_then_lora_trains_the_base_weights_and_the_update(tiny_model_dir):
    """A method never freezes what an earlier one made trainable: the weights LoRA wraps
    (renamed `….base_layer.weight` by peft) keep training under finetune."""
    model = build(tiny_model_dir, "gpt2", [{"name": "finetune", "options": {}},
                                           {"name": "lora", "options": {"dropout": 0.0}}])
    params = dict(model.named_parameters())
    wrapped = [n for n in params if n.endswith(".base_layer.weight")]
    assert wrapped and all(params[n].requires_grad for n in wrapped)
    before = {n: p.detach().clone() for n, p in params.items()}
    train_steps(model)
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
    assert set(wrapped) <= changed
    assert any(".lora_B" in n for n in changed)


@pytest.mark.parametrize("later", [
    {"name": "prompt_tuning", "options": {"length": 2}},
    {"name": "ptuning", "options": {"encoder": "mlp", "hidden": 8, "freeze_model": True}},
    {"name": "prefix", "options": {"length": 2, "hidden": 8}},
    {"name": "adapter", "options": {"reduction": 4}},
])
def test_later_methods_keep_what_finetune_made_trainable(tiny_model_dir, later):
    model = build(tiny_model_dir, "gpt2", [{"name": "finetune", "options": {}}, later],
                  "<soft> {sentence} It was [MASK]")
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_lora_merge_is_exact_and_reversible(tiny_model_dir, tmp_path):
    merged = build(tiny_model_dir, "llama", [{"name": "lora", "options": {"merge": True,
                                                                           "dropout": 0.0}}])
    base = {n: p.detach().clone() for n, p in merged.backbone.named_parameters()
            if "base_layer" in n}
    train_steps(merged)
    scores = merged.scores(ROWS)                     # evaluation: update folded in
    assert any(not torch.equal(base[n], p) for n, p in merged.backbone.named_parameters()
               if n in base)
    merged.train()
    merged(merged.collate(merged.encode(ROWS[:2])))  # training: unfolded again, exactly
    assert all(torch.equal(base[n], p) for n, p in merged.backbone.named_parameters() if n in base)
    save_checkpoint(merged, tmp_path / "ckpt")
    plain = build(tiny_model_dir, "llama", [{"name": "lora", "options": {"dropout": 0.0}}])
    from promptdsl.train.checkpoint import load_trainable
    load_trainable(plain, tmp_path / "ckpt")
    torch.testing.assert_close(plain.scores(ROWS), scores, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("encoder", ["lstm", "mlp"])
def test_ptuning_export_reproduces_predictions(tiny_model_dir, tmp_path, encoder):
    from promptdsl_plugins.methods.ptuning import load_ptuning_export
    methods = [{"name": "ptuning", "options": {"encoder": encoder, "hidden": 16}}]
    template = "<soft*2> {sentence} <soft> It was [MASK] ."
    model = build(tiny_model_dir, "bert", methods, template)
    train_steps(model)
    save_checkpoint(model, tmp_path / "ckpt")
    exported = (tmp_path / "ckpt" / "ptuning_embeddings.safetensors")
    assert exported.is_file()
    fresh = build(tiny_model_dir, "bert", methods, template)    # untrained encoder
    assert not torch.allclose(fresh.scores(ROWS), model.scores(ROWS), atol=1e-4)
    load_ptuning_export(fresh, tmp_path / "ckpt")
    assert not any(n.startswith("soft_prompt.encoder") for n, _ in fresh.named_parameters())
    torch.testing.assert_close(fresh.scores(ROWS), model.scores(ROWS), atol=1e-5, rtol=1e-5)


def test_prefix_export_reproduces_predictions(tiny_model_dir, tmp_path):
    from promptdsl_plugins.methods.prefix import load_prefix_export
    methods = [{"name": "prefix", "options": {"length": 3, "hidden": 16}}]
    model = build(tiny_model_dir, "t5", methods, "{sentence} It was [MASK] .")
    train_steps(model)
    save_checkpoint(model, tmp_path / "ckpt")
    fresh = build(tiny_model_dir, "t5", methods, "{sentence} It was [MASK] .")
    load_prefix_export(fresh, tmp_path / "ckpt")
    assert not any(n.startswith("method_prefix.mlp") for n, _ in fresh.named_parameters())
    torch.testing.assert_close(fresh.scores(ROWS), model.scores(ROWS), atol=1e-5, rtol=1e-5)


def test_ptuning_can_tune_the_model_too(tiny_model_dir):
    model = build(tiny_model_dir, "llama", [{"name": "ptuning", "options": {
        "encoder": "mlp", "hidden": 8, "freeze_model": False}}], "<soft> {sentence} It was [MASK]")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("backbone.") for n in trainable)
    assert any(n.startswith("soft_prompt.encoder") for n in trainable)


@pytest.mark.parametrize("projection", [False, True])
def test_prefix_is_a_cache_of_real_tokens(tiny_model_dir, projection):
    """A prefix starts as the model's own keys/values of probe tokens (with projection, the MLP
    adds zero at first), so the prefixed model must predict what the plain model predicts after
    those tokens."""
    from promptdsl_plugins.methods import _attention
    model = build(tiny_model_dir, "llama", [{"name": "prefix", "options": {
        "length": 4, "projection": projection, "hidden": 8}}])
    plain = build(tiny_model_dir, "llama", ["zero_shot"])
    ids, _ = _attention.probe_inputs(model, 4)
    x = torch.tensor([[11, 12, 13, 14, 15], [0, 0, 21, 22, 23]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    with torch.no_grad():
        full_mask = torch.cat([torch.ones(2, 4, dtype=torch.long), mask], 1)
        full = plain.backbone(input_ids=torch.cat([ids.expand(2, -1), x], 1),
                              attention_mask=full_mask,
                              position_ids=(full_mask.cumsum(-1) - 1).clamp(min=0)).logits[:, -1]
        positions = (mask.cumsum(-1) - 1).clamp(min=0) + 4
        prefixed = model.backbone(input_ids=x, attention_mask=mask,
                                  position_ids=positions).logits[:, -1]
    torch.testing.assert_close(prefixed, full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["bert", "t5"])
def test_prefix_counts_every_self_attention(tiny_model_dir, name):
    model = build(tiny_model_dir, name, [{"name": "prefix", "options": {
        "length": 2, "projection": False}}], "{sentence} It was [MASK] .")
    layers = 2 if name == "bert" else 4              # T5: encoder and decoder self-attention
    assert len(model.method_prefix.keys) == layers


@pytest.mark.parametrize("name", ["bert", "gpt2", "t5"])
def test_adapters_start_as_identity(tiny_model_dir, name):
    template = "{sentence} It was [MASK]" + ("" if name == "gpt2" else " .")
    plain = build(tiny_model_dir, name, ["zero_shot"], template)
    adapted = build(tiny_model_dir, name, ["adapter"], template)
    per_layer = 3 if name == "t5" else 2             # T5 decoder: self, cross, feed-forward
    assert len(adapted.method_adapters) >= 2 * per_layer
    torch.testing.assert_close(adapted.scores(ROWS), plain.scores(ROWS))


@pytest.mark.parametrize("methods, message", [
    ([{"name": "ptuning", "options": {}}], "no soft tokens"),
    ([{"name": "lora", "options": {"target": ["nonexistent"]}}], "nonexistent"),
    (["prefix", "prefix"], "given twice"),
    (["adapter", "adapter"], "given twice"),
    ([{"name": "prompt_tuning", "options": {"length": 0}}], "nothing to train"),
    ([{"name": "adapter", "options": {"reduce": 3}}], "reduce"),
])
def test_bad_method_use_is_a_clear_error(tiny_model_dir, methods, message):
    with pytest.raises(PromptdslError, match=message):
        build(tiny_model_dir, "llama", methods)


@pytest.mark.parametrize("method", ["prompt_tuning", "ptuning", "prefix", "adapter", "lora"])
def test_sst2_task_files_check_clean(method):
    """tasks/sst2_<method>.prompt (the SmolLM2 runs of the benchmark notes) pass the checker and
    carry their method with every option filled in."""
    from pathlib import Path

    import promptdsl
    path = Path(__file__).resolve().parents[1] / "tasks" / f"sst2_{method}.prompt"
    task = promptdsl.load(path, task=f"sst2_{method}")
    spec = get_registry().methods[method]
    assert task["methods"][0]["name"] == method
    assert set(task["methods"][0]["options"]) == set(spec.schema["properties"])
    assert task["data"]["shots"] == 16 and task["model"] == "smollm2-135m"

"""`lora` through peft (see lora.py): inject into the backbone, save as a peft adapter folder
(the checkpoint's only copy of the LoRA tensors), read them back from it."""
from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers.pytorch_utils import Conv1D

from promptdsl.errors import ModelError
from promptdsl.runtime import write_safetensors

from ._layers import find_attention_inputs

ADAPTER = "default"
FOLDER = "lora"                    # checkpoint/lora/: what PeftModel.from_pretrained loads
ADAPTER_FILE = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."  # how PeftModel.save_pretrained names the backbone's tensors


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _matches(name: str, target: str) -> bool:
    # peft's rule for a list of target names
    return name == target or name.endswith("." + target)


def default_targets(model) -> list[str]:
    """The query and value projections of every attention module (a fused qkv projection when
    there is one), found from the calls a probe forward makes, given by their short names
    (q_proj, query, q, c_attn …) or by full names where a short one would catch other modules."""
    chosen = []
    for _, inputs in find_attention_inputs(model):
        chosen.extend([inputs[0], inputs[2]] if len(inputs) >= 3 else inputs)
    if not chosen:
        raise ModelError(f"lora: found no attention projections in "
                                f"{type(model.backbone).__name__}; name them with `target`")
    names = {id(m): n for n, m in model.backbone.named_modules()}
    full = [names[id(m)] for m in dict.fromkeys(chosen)]
    short = sorted({_short(n) for n in full})
    caught = {n for n, _ in model.backbone.named_modules() if any(_matches(n, t) for t in short)}
    return short if caught == set(full) else full


def _check_targets(backbone, targets: list[str]) -> list:
    modules = dict(backbone.named_modules())
    found = [m for n, m in modules.items() if any(_matches(n, t) for t in targets)]
    for target in targets:
        if not any(_matches(n, target) for n in modules):
            present = sorted({_short(n) for n, m in modules.items()
                              if isinstance(m, (torch.nn.Linear, Conv1D))})
            raise ModelError(f"lora: the model has no module named `{target}`; its linear "
                                    f"modules are: {', '.join(present)}")
    return found


def apply_lora(model, options) -> None:
    backbone = model.backbone
    if hasattr(backbone, "peft_config"):
        raise ModelError("method `lora` is given twice; give it once")
    targets = list(options.target) if options.target else default_targets(model)
    modules = _check_targets(backbone, targets)
    config = LoraConfig(r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
                        target_modules=targets, bias="none",
                        fan_in_fan_out=any(isinstance(m, Conv1D) for m in modules))
    # peft freezes everything it did not add; composition keeps what earlier methods trained,
    # the adapted weights included (peft renames `x.weight` to `x.base_layer.weight`)
    trained = {name for name, p in backbone.named_parameters() if p.requires_grad}
    try:
        inject_adapter_in_model(config, backbone, adapter_name=ADAPTER)
    except (ValueError, TypeError) as exc:        # e.g. a target that is not a supported layer
        raise ModelError(f"lora: peft cannot adapt {targets}: {exc}") from exc
    for name, param in backbone.named_parameters():
        if _name_before_injection(name) in trained or _is_lora(name):
            param.requires_grad_(True)
    if options.merge:
        _merge_when_evaluating(model)


def _is_lora(name: str) -> bool:
    return ".lora_" in name


def _name_before_injection(name: str) -> str:
    return name.replace(".base_layer.", ".")


def lora_layers(backbone) -> list:
    return [m for m in backbone.modules() if isinstance(m, LoraLayer)]


class _Merger:
    """Evaluation runs with each update folded into its base weight (no extra latency); training
    runs unfolded. Unfolding restores a copy of the base weight, so it is exact however often the
    mode flips and whatever was loaded into the LoRA tensors meanwhile (a changed tensor, seen by
    its version counter, is folded in again)."""

    def __init__(self, layers):
        self.layers = layers
        self.saved: dict = {}      # id(layer) -> (base weight copy, versions of its LoRA tensors)

    @staticmethod
    def _versions(layer):
        return tuple(p._version for p in layer.parameters() if p is not layer.get_base_layer().weight)

    @torch.no_grad()
    def fold(self, layer):
        base = layer.get_base_layer().weight
        self.saved[id(layer)] = (base.detach().clone(), self._versions(layer))
        base.add_(layer.get_delta_weight(ADAPTER).to(base.dtype))
        layer.merged_adapters.append(ADAPTER)

    @torch.no_grad()
    def unfold(self, layer):
        weight, _ = self.saved.pop(id(layer))
        layer.get_base_layer().weight.copy_(weight)
        layer.merged_adapters.remove(ADAPTER)

    def unfold_all(self) -> None:
        """Every update out of the weights again (before the weights are saved)."""
        for layer in self.layers:
            if id(layer) in self.saved:
                self.unfold(layer)

    def __call__(self, backbone, args):
        for layer in self.layers:
            folded = id(layer) in self.saved
            if folded and (backbone.training or self.saved[id(layer)][1] != self._versions(layer)):
                self.unfold(layer)
                folded = False
            if not backbone.training and not folded:
                self.fold(layer)


def _merge_when_evaluating(model) -> None:
    model.lora_merger = _Merger(lora_layers(model.backbone))
    model.backbone.register_forward_pre_hook(model.lora_merger)


def _peft_state(model) -> dict:
    """{key in adapter_model.safetensors: (name in model.state_dict(), tensor)}. peft's own
    state dict decides the keys; its tensors share storage with the parameters they name."""
    owner = {(p.data_ptr(), tuple(p.shape)): name for name, p in model.named_parameters()}
    state = {}
    for key, tensor in get_peft_model_state_dict(model.backbone, adapter_name=ADAPTER).items():
        name = owner.get((tensor.data_ptr(), tuple(tensor.shape)))
        if name is None:
            raise ModelError(f"lora: peft's tensor {key} is no parameter of the model")
        state[PEFT_PREFIX + key] = (name, tensor)
    return state


def save_lora_adapter(model, directory) -> list[str]:
    """checkpoint/lora/{adapter_config.json, adapter_model.safetensors}, as peft writes them;
    returns the trainable-state names of the tensors stored there. The config names the folder
    the backbone was loaded from, so `PeftModel.from_pretrained` finds the base model."""
    folder = Path(directory) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    merger = getattr(model, "lora_merger", None)
    if merger is not None:     # a folded update would be saved into trained base weights
        merger.unfold_all()
    state = _peft_state(model)
    write_safetensors({key: tensor.detach().to("cpu").contiguous()
                       for key, (_, tensor) in state.items()},
                      folder / ADAPTER_FILE, {"format": "pt"})
    config = model.backbone.peft_config[ADAPTER]
    config.base_model_name_or_path = model.hf_model().config.name_or_path or None
    config.save_pretrained(str(folder))
    trainable = set(model.trainable_state_dict())
    return [name for name, _ in state.values() if name in trainable]


def load_lora_adapter(model, directory) -> dict:
    """{trainable-state name: tensor} from the adapter folder `save_lora_adapter` wrote, for a
    model built from the same task (methods applied)."""
    path = Path(directory) / FOLDER / ADAPTER_FILE
    try:
        stored = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{path}: cannot read the LoRA adapter: {exc}") from exc
    names = {key: name for key, (name, _) in _peft_state(model).items()}
    if set(stored) != set(names):
        odd = sorted(set(stored) ^ set(names))
        raise ModelError(f"{path}: the adapter does not fit the model built from the task "
                         f"({len(odd)} tensor(s) differ, e.g. {odd[0]})")
    return {names[key]: tensor for key, tensor in stored.items()}

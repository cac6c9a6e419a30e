"""`lora` through peft (see lora.py): inject into the backbone, save as a peft adapter folder."""
from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from safetensors.torch import save_file
from transformers.pytorch_utils import Conv1D

from ._layers import find_attention_inputs
from ._options import MethodOptionError

ADAPTER = "default"
FOLDER = "lora"                    # checkpoint/lora/: what PeftModel.from_pretrained loads
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
        raise MethodOptionError(f"lora: found no attention projections in "
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
            raise MethodOptionError(f"lora: the model has no module named `{target}`; its linear "
                                    f"modules are: {', '.join(present)}")
    return found


def apply_lora(model, options) -> None:
    backbone = model.backbone
    if hasattr(backbone, "peft_config"):
        raise MethodOptionError("method `lora` is given twice; give it once")
    targets = list(options.target) if options.target else default_targets(model)
    modules = _check_targets(backbone, targets)
    config = LoraConfig(r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
                        target_modules=targets, bias="none",
                        fan_in_fan_out=any(isinstance(m, Conv1D) for m in modules))
    # peft freezes everything it did not add; composition keeps what earlier methods trained
    # (except the adapted weights themselves, renamed `….base_layer.weight`: LoRA freezes them)
    trained = {name for name, p in backbone.named_parameters() if p.requires_grad}
    try:
        inject_adapter_in_model(config, backbone, adapter_name=ADAPTER)
    except (ValueError, TypeError) as exc:        # e.g. a target that is not a supported layer
        raise MethodOptionError(f"lora: peft cannot adapt {targets}: {exc}") from exc
    for name, param in backbone.named_parameters():
        if name in trained or _is_lora(name):
            param.requires_grad_(True)
    if options.merge:
        _merge_when_evaluating(model)


def _is_lora(name: str) -> bool:
    return ".lora_" in name


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

    def __call__(self, backbone, args):
        for layer in self.layers:
            folded = id(layer) in self.saved
            if folded and (backbone.training or self.saved[id(layer)][1] != self._versions(layer)):
                self.unfold(layer)
                folded = False
            if not backbone.training and not folded:
                self.fold(layer)


def _merge_when_evaluating(model) -> None:
    model.backbone.register_forward_pre_hook(_Merger(lora_layers(model.backbone)))


def save_lora_adapter(model, directory) -> Path:
    """checkpoint/lora/{adapter_config.json, adapter_model.safetensors}, as peft writes them."""
    backbone = model.backbone
    folder = Path(directory) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    state = get_peft_model_state_dict(backbone, adapter_name=ADAPTER)
    state = {PEFT_PREFIX + k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    save_file(state, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = backbone.peft_config[ADAPTER]
    config.base_model_name_or_path = model.task.get("model") if hasattr(model, "task") else None
    config.save_pretrained(str(folder))
    return folder

"""`lora` (Hu et al. 2021) through peft: low-rank updates of chosen linear weights.

`target` names modules by their last name (`q_proj`, `query`, `c_attn` …); by default the
attention query and value projections are found from a probe forward (the first and third
projection each attention module calls). `save` writes a peft adapter folder
(`adapter_config.json` + `adapter_model.safetensors`, the one copy of the LoRA tensors) that
`peft.PeftModel.from_pretrained(AutoModel….from_pretrained(base), folder)` loads; `load` reads
the tensors back for a checkpoint. With `merge`, evaluation runs with the
update folded into the weights (no extra latency); training unfolds it again.
"""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec
from promptdsl.options import MAX_WIDTH, option, typed

NAME = "lora"


@dataclass
class LoraOptions:
    # Hu et al.: r = 8 on RoBERTa
    r: int = option(8, "rank of the update", minimum=1, maximum=MAX_WIDTH)
    # the paper sets alpha to the first r tried
    alpha: float = option(8, "scaling: the update is multiplied by alpha / r", minimum=0)
    # Hu et al., GPT-2 runs
    dropout: float = option(0.1, "dropout on the LoRA input", minimum=0, maximum=1)
    target: list[str] | None = option(
        None, "module names to adapt (default: the attention query and value projections, "
              "found from the model)", minItems=1, items={"type": "string", "minLength": 1})
    merge: bool = option(False, "evaluate with the update merged into the weights")


def apply(model, options: dict) -> None:
    from ._lora import apply_lora
    apply_lora(model, typed(LoraOptions, options, f"method {NAME}"))


def save(model, options: dict, directory) -> list:
    from ._lora import save_lora_adapter
    return save_lora_adapter(model, directory)


def load(model, options: dict, directory) -> dict:
    from ._lora import load_lora_adapter
    return load_lora_adapter(model, directory)


SPECS = [MethodSpec(
    name=NAME, apply=apply, options=LoraOptions, save=save, load=load,
    description="low-rank updates of chosen weights, through peft (Hu et al. 2021)")]

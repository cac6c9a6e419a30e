"""`lora` (Hu et al. 2021) through peft: low-rank updates of chosen linear weights.

`target` names modules by their last name (`q_proj`, `query`, `c_attn` …); by default the
attention query and value projections are found from the module names the model has.
`save` writes a peft adapter folder (`adapter_config.json` + `adapter_model.safetensors`) that
`peft.PeftModel.from_pretrained(backbone, folder)` loads. With `merge`, evaluation runs with the
update folded into the weights (no extra latency); training unfolds it again.
"""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec, options_schema

from ._options import boolean, integer, number, typed

NAME = "lora"


@dataclass
class LoraOptions:
    r: int = 8                  # Hu et al.: r = 8 on RoBERTa
    alpha: float = 8            # scaling alpha / r; the paper sets alpha to the first r tried
    dropout: float = 0.1         # Hu et al., GPT-2 runs
    target: list | None = None  # None: query/value projections found from the module names
    merge: bool = False


SCHEMA = options_schema({
    "r": integer(1, 8, description="rank of the update"),
    "alpha": number(0, 8, description="scaling: the update is multiplied by alpha / r"),
    "dropout": number(0, 0.1, maximum=1, description="dropout on the LoRA input"),
    "target": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1},
               "minItems": 1, "default": None,
               "description": "module names to adapt (default: the attention query and value "
                              "projections, found from the model)"},
    "merge": boolean(False, "evaluate with the update merged into the weights"),
})


def apply(model, options: dict) -> None:
    from ._lora import apply_lora
    apply_lora(model, typed(LoraOptions, options, NAME))


def save(model, options: dict, directory) -> None:
    from ._lora import save_lora_adapter
    save_lora_adapter(model, directory)


SPECS = [MethodSpec(
    name=NAME, apply=apply, schema=SCHEMA, save=save,
    description="low-rank updates of chosen weights, through peft (Hu et al. 2021)")]

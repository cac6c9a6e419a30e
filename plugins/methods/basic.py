"""The two methods that need no new parameters: `zero_shot` (evaluate only) and `finetune`
(prompt-based fine-tuning of the whole model, as in PET / LM-BFF)."""
from __future__ import annotations

from promptdsl import MethodSpec


def _freeze_everything(model, options: dict) -> None:
    # soft tokens too: a zero-shot run never trains, so nothing should look trainable
    for parameter in model.parameters():
        parameter.requires_grad_(False)


def _unfreeze_backbone(model, options: dict) -> None:
    # soft tokens and trainable verbalizer parameters keep the flags compile gave them
    for parameter in model.backbone.parameters():
        parameter.requires_grad_(True)


SPECS = [
    MethodSpec(name="zero_shot", apply=_freeze_everything, trains=False,
               description="no training: evaluate the template and verbalizer as they are"),
    MethodSpec(name="finetune", apply=_unfreeze_backbone,
               description="train the whole model with the prompt (PET / LM-BFF style); "
                           "soft tokens train with it"),
]

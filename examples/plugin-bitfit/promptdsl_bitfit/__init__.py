"""BitFit (Ben Zaken et al., 2022) as a promptdsl method: the model stays frozen except its bias
terms. Use it from a .prompt file as `method bitfit { }` once this package is installed.

This is a complete third-party plugin: one hook returning one MethodSpec, found through the
`promptdsl` entry-point group (see pyproject.toml). It imports only the public API.
"""
from __future__ import annotations

from dataclasses import dataclass

from promptdsl import MethodSpec, hookimpl
from promptdsl.errors import ModelError
from promptdsl.options import option, typed

__version__ = "0.1.0"


@dataclass
class BitFitOptions:
    layer_norm: bool = option(True, "train the biases of normalisation layers too")


def _is_norm(module_name: str, model) -> bool:
    module = model.backbone.get_submodule(module_name) if module_name else model.backbone
    return "norm" in type(module).__name__.lower()


def apply(model, options: dict) -> None:
    """Let every bias train (normalisation biases unless told not). The backbone arrives frozen;
    what an earlier method made trainable stays trainable."""
    options = typed(BitFitOptions, options, "method bitfit")
    trained = 0
    for name, parameter in model.backbone.named_parameters():
        owner, _, leaf = name.rpartition(".")
        if leaf != "bias" or (not options.layer_norm and _is_norm(owner, model)):
            continue
        parameter.requires_grad_(True)
        trained += parameter.numel()
    if trained == 0:
        raise ModelError(f"bitfit: model `{model.task['model']}` has no bias terms to train "
                         "(Llama-style models have none); choose another method")


@hookimpl
def promptdsl_methods():
    return [MethodSpec(name="bitfit", apply=apply, options=BitFitOptions,
                       description="train only the bias terms (BitFit)")]

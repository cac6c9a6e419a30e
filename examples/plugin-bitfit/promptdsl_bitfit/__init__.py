"""BitFit (Ben Zaken et al., 2022) as a promptdsl method: the model stays frozen except its bias
terms. Use it from a .prompt file as `method bitfit { }` once this package is installed.

This is a complete third-party plugin: one hook returning one MethodSpec, found through the
`promptdsl` entry-point group (see pyproject.toml). It imports only the public API.
"""
from __future__ import annotations

from promptdsl import MethodSpec, hookimpl, options_schema
from promptdsl.errors import ModelError

__version__ = "0.1.0"

SCHEMA = options_schema({
    "layer_norm": {"type": "boolean", "default": True,
                   "description": "train the biases of normalisation layers too"},
})


def _is_norm(module_name: str, model) -> bool:
    module = model.backbone.get_submodule(module_name) if module_name else model.backbone
    return "norm" in type(module).__name__.lower()


def apply(model, options: dict) -> None:
    """Freeze the backbone, then let every bias train (normalisation biases unless told not)."""
    model.backbone.requires_grad_(False)
    layer_norm = options.get("layer_norm", True)
    trained = 0
    for name, parameter in model.backbone.named_parameters():
        owner, _, leaf = name.rpartition(".")
        if leaf != "bias" or (not layer_norm and _is_norm(owner, model)):
            continue
        parameter.requires_grad_(True)
        trained += parameter.numel()
    if trained == 0:
        raise ModelError(f"bitfit: model `{model.task['model']}` has no bias terms to train "
                         "(Llama-style models have none); choose another method")


@hookimpl
def promptdsl_methods():
    return [MethodSpec(name="bitfit", apply=apply, schema=SCHEMA,
                       description="train only the bias terms (BitFit)")]

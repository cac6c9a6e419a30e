"""`compile_task(ir)`: a task IR → a PromptModel, methods applied.

Steps: resolve + load the backbone (Auto classes, family from its config) → compile the template
(soft-token table) → soft prompt initialised from the embeddings → verbalizer built by its
kind's plugin → backbone frozen → each method's `apply(model, options)` in file order.
"""
from __future__ import annotations

import torch

from .. import families
from ..data.api import reads_every_mask
from ..errors import ModelError, PluginError
from ..registry import get_registry
from .backbone import check_max_length, load_backbone
from .prefix_cache import pristine_names
from .prompt_model import PromptModel
from .shared import active_for
from .soft_prompt import SoftPrompt
from .template import CompiledTemplate
from .verbalizer import VerbalizerContext


def special_token_ids(tokenizer) -> set:
    return {int(i) for i in getattr(tokenizer, "all_special_ids", []) or []}


def build_verbalizer(model: PromptModel):
    spec_ir = model.task["verbalizer"]
    kinds = get_registry().verbalizers
    spec = kinds.get(spec_ir["kind"])
    if spec is None:
        raise PluginError(f"unknown verbalizer kind `{spec_ir['kind']}`; known kinds: "
                          f"{', '.join(sorted(kinds)) or '(none loaded)'}")
    renderer = model.renderer()
    tagged = spec.reads_masks
    context = VerbalizerContext(
        task=model.task, spec=spec_ir, options=dict(spec_ir["options"]),
        labels=[entry["label"] for entry in spec_ir["labels"]],
        words=[list(entry["words"]) for entry in spec_ir["labels"]],
        tokenizer=model.tokenizer, backbone=model.backbone, family=model.family,
        model_name=model.task["model"], mask_space=renderer.mask_space, model=model,
        word_masks=[list(entry.get("masks") or ()) for entry in spec_ir["labels"]]
        if tagged else None,
        template_masks=tuple(renderer.mask_names), mask_spaces=tuple(renderer.mask_spaces))
    return spec.build(context)


def assemble(task: dict, tokenizer, backbone, family: str) -> PromptModel:
    """The PromptModel of `task` over an already loaded backbone (methods not applied)."""
    generates = task.get("target") is not None
    if generates and not families.get(family).generates:
        raise ModelError(f"model `{task['model']}` is a {families.get(family).title}: it fills "
                         "each [MASK] with one token and cannot generate a target; use a "
                         "causal or seq2seq model")
    if not generates and not (task.get("verbalizer") or {}).get("labels"):
        raise ModelError("the verbalizer has no labels")
    template_ir = task["template"]
    template = CompiledTemplate(template_ir["text"], template_ir["pieces"], tokenizer,
                                family, task["model"], filled=reads_every_mask(task))
    embeddings = backbone.get_input_embeddings().weight
    soft_prompt = SoftPrompt(embeddings.shape[1], dtype=embeddings.dtype,
                             device=embeddings.device)
    generator = torch.Generator().manual_seed(int(task["train"]["seed"]))
    specials = special_token_ids(tokenizer)

    def grow(inits):
        return soft_prompt.grow(inits, backbone.get_input_embeddings().weight, specials,
                                generator)
    grow(template.soft_init)
    template._grow = grow
    soft_prompt.generator, soft_prompt.special_ids = generator, specials

    pristine_names(backbone)                # what the prefix cache compares methods' edits to
    backbone.requires_grad_(False)          # methods decide what else trains
    model = PromptModel(task, tokenizer, backbone, family, template, soft_prompt)
    if not generates:
        model.verbalizer = build_verbalizer(model)
    return model


def method_specs(task: dict) -> list:
    """[(MethodSpec, options)] of the task's methods, in file order."""
    specs = get_registry().methods
    out = []
    for method in task["methods"]:
        spec = specs.get(method["name"])
        if spec is None:
            known = ", ".join(sorted(specs)) or "(none loaded)"
            raise PluginError(f"unknown method `{method['name']}`; known methods: {known}")
        out.append((spec, dict(method["options"])))
    return out


def apply_methods(model: PromptModel) -> None:
    for spec, options in method_specs(model.task):
        spec.apply(model, options)


def compile_task(task: dict, device=None, apply: bool = True, meta: bool = False) -> PromptModel:
    """Build the PromptModel of a task IR (internals §1) on `device` (default: CPU), with its
    methods applied in order (`apply=False` leaves them out). `meta=True`: the backbone is built
    from its config on the meta device (shapes and parameter counts only, no weights)."""
    shared = None if meta else active_for(task)
    if shared is not None:       # a batched sweep's points build on one loaded backbone
        tokenizer, backbone, family = shared.load()
    else:
        # a model folder's own code runs only when the task says so (docs/reliability.md)
        tokenizer, backbone, family = load_backbone(
            task["model"], meta=meta,
            trust_remote_code=bool(task.get("trust_remote_code", False)))
    check_max_length(task, tokenizer, backbone)
    model = assemble(task, tokenizer, backbone, family)
    if shared is not None:
        model.shared_reads = shared.reads
    if apply:
        apply_methods(model)
    if device is not None and not meta:
        model.to(device)
    model.eval()
    return model

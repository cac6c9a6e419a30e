"""`prompt_mixture` (Qin & Eisner 2021, "Learning How to Ask"): K soft prompts over one template,
trained together; each row is read once per prompt and the K label distributions are mixed,
p(y|x) = Σ_k w_k p_k(y|x), with learned weights w (or the mean).

Prompt 0 is the template's own soft-token table, set up exactly as `prompt_tuning` does
(`length`, `init`); prompts 1 … K-1 start the way the template starts its soft tokens, with
their own draws, so they differ. The module is plugins/methods/_mixture.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptdsl import MethodSpec
from promptdsl.errors import ModelError
from promptdsl.options import option, typed

from .prompt_tuning import PromptTuningOptions

NAME = "prompt_mixture"
MAX_PROMPTS = 32       # each prompt is one more read of every row: beyond this, a typo


@dataclass
class PromptMixtureOptions(PromptTuningOptions):   # length and init as prompt_tuning's
    prompts: int = option(4, "soft prompts trained together and mixed (K)", minimum=2,
                          maximum=MAX_PROMPTS)
    combine: Literal["learned", "mean"] = option(
        "learned", "mixture weights: learned (a softmax over K trained logits, starting "
                   "uniform) | mean (uniform, fixed)")


def apply(model, options: dict) -> None:
    options = typed(PromptMixtureOptions, options, f"method {NAME}")
    if model.generates:
        raise ModelError(f"{NAME}: it mixes label distributions, and a generation task "
                         "(`target`) has none; use prompt_tuning")
    if model.prompt_set is not None:
        raise ModelError(f"{NAME}: another method already reads every row with several "
                         "prompts; keep only one of them")
    verbalizer = model.verbalizer
    # calibration is measured on the model's own prompt only (PromptModel.calibrate)
    if getattr(verbalizer, "needs_calibration", False):
        raise ModelError(f"{NAME}: calibration is measured with one prompt, not the mixture; "
                         "use `calibrate: none`")
    if not 2 <= options.prompts <= MAX_PROMPTS:
        raise ModelError(f"{NAME}: `prompts: {options.prompts}`: a mixture needs 2 to "
                         f"{MAX_PROMPTS} prompts; for one prompt use prompt_tuning")
    if options.length == 0 and model.template.n_soft == 0:
        raise ModelError(f"{NAME}: nothing to mix: `length: 0` and the template has no <soft> "
                         "tokens; leave `length` out (20 tokens) or add some, e.g. "
                         "template: \"{sentence} <soft*3> It was [MASK]\"")
    from ._mixture import PromptMixture
    from ._soft import apply_prompt_tuning
    apply_prompt_tuning(model, options)           # prompt 0: the model's own soft tokens
    extra = _extra_prompts(model, options)
    model.prompt_set = PromptMixture(extra, options.combine, model.soft_prompt)


DRAWN = ("vocab", "random")     # soft-token inits that sample, as opposed to an init text's ids


def _extra_prompts(model, options):
    """[K-1, n_soft, H]: each prompt grown as compilation grows the template's soft tokens, then
    re-initialised as `prompt_tuning` re-initialises prompt 0, drawing from the soft prompt's
    seeded generator (so each prompt gets its own draws, the same ones every run)."""
    import torch

    from ._soft import _own_default_rows
    soft, template = model.soft_prompt, model.template
    fresh = type(soft)        # the model's own soft-token table class (public through the model)
    embeddings = model.backbone.get_input_embeddings().weight
    special_ids = getattr(soft, "special_ids", ())
    generator = getattr(soft, "generator", None)
    own_rows = _own_default_rows(template)
    drawn = {row for row, init in enumerate(template.soft_init) if init in DRAWN}
    if isinstance(options.init, dict):
        drawn -= set(own_rows)
    if not drawn:
        raise ModelError(f"{NAME}: every soft token starts from the embeddings of an init text, "
                         "so all prompts would start, and train, identically; use `init: vocab` "
                         "or `random`, or add soft tokens without init text (<soft*3>)")
    prompts = []
    for _ in range(options.prompts - 1):
        prompt = fresh(soft.weight.shape[1], dtype=soft.weight.dtype, device=soft.weight.device)
        prompt.grow(template.soft_init, embeddings, special_ids, generator)
        if own_rows and options.init != "vocab":
            prompt.initialize(own_rows, options.init, embeddings, tokenizer=model.tokenizer,
                              special_ids=special_ids, generator=generator)
        prompts.append(prompt.weight.detach())
    return torch.stack(prompts)


SPECS = [MethodSpec(
    name=NAME, apply=apply, options=PromptMixtureOptions, generation=False,
    description="K soft prompts trained jointly, their predictions mixed with learned weights "
                "(Qin & Eisner 2021)")]

"""The one place that knows model families and where each reads the mask.

Used by `promptc check` (family from the model's config only, no weights) and by `compile`.
No model list: the family comes from the config's own flags and architecture names.
"""
from __future__ import annotations

MLM, CAUSAL, SEQ2SEQ = "mlm", "causal", "seq2seq"
FAMILIES = (MLM, CAUSAL, SEQ2SEQ)


def family_of_config(config: dict) -> str | None:
    """Family from a config dict (`config.to_dict()` or config.json); None if it cannot tell."""
    if config.get("is_encoder_decoder"):
        return SEQ2SEQ
    for arch in config.get("architectures") or []:
        if arch.endswith("ForMaskedLM"):
            return MLM
        if arch.endswith(("ForCausalLM", "LMHeadModel")):
            return CAUSAL
        if arch.endswith("ForConditionalGeneration"):
            return SEQ2SEQ
    if config.get("is_decoder"):
        return CAUSAL
    # encoder-only configs without architectures (e.g. built from scratch) are masked LMs
    model_type = config.get("model_type", "")
    if model_type:
        try:
            from transformers.models.auto.modeling_auto import (
                MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_MASKED_LM_MAPPING_NAMES,
                MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)
        except ImportError:  # pragma: no cover - transformers is a dependency
            return None
        if model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
            return SEQ2SEQ
        # encoders such as BERT also have a causal head class; the masked one is their own
        if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
            return MLM
        if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            return CAUSAL
    return None


def mask_placement_error(family: str, pieces: list[dict]) -> str | None:
    """Why the template's mask placement is illegal for `family`, or None when it is fine.

    A masked LM reads `[MASK]` anywhere, a seq2seq model predicts it in the decoder (anywhere in
    the encoder input), a causal LM predicts the next token, so its mask must be the last piece
    (only whitespace text may follow).
    """
    if family != CAUSAL:
        return None
    masks = [i for i, p in enumerate(pieces) if p.get("type") == "mask"]
    if not masks:
        return None
    last = masks[-1]
    trailing = pieces[last + 1:]
    if any(not (p.get("type") == "text" and not p.get("text", "").strip()) for p in trailing):
        return ("a causal model predicts the next token, so [MASK] must be the last thing in the "
                "template")
    return None

"""Loading the backbone: a `model:` name → a directory (through the registry's model sources) →
tokenizer + model through the transformers Auto classes, with the family read from the config.

No model list here: which Auto class loads a model follows from its family
(`promptdsl.families`), and which names exist is up to the model-source plugins.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import families
from ..errors import ModelError
from ..families import family_of_config


def _sources():
    from ..registry import get_registry
    specs = list(get_registry().model_sources.values())
    return [s for s in specs if not s.fallback] + [s for s in specs if s.fallback]


def resolve_model(name: str) -> str:
    """The local directory the model sources give for `name`; ModelError if none does."""
    tried = []
    for spec in _sources():
        path = spec.resolve(name)
        if path is not None:
            return str(path)
        tried.append(spec.name)
    raise ModelError(
        f"model `{name}`: no model source knows it (tried: {', '.join(tried) or 'none'}). "
        "Give a local directory holding a Hugging Face model, a model-source name such as "
        "`smollm2-135m`, or a hub id (the hub needs network access or a cached copy).")


def model_config(name: str) -> dict:
    """The model's config as a dict, without loading weights (for `promptc check`)."""
    for spec in _sources():
        if spec.config is not None:
            config = spec.config(name)
            if config is not None:
                return config
    path = Path(resolve_model(name)) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model `{name}`: cannot read its config {path}: {exc}") from exc


def family_of(name: str, config: dict) -> str:
    family = family_of_config(config)
    if family is None:
        raise ModelError(
            f"model `{name}` (model_type `{config.get('model_type', '?')}`) is neither a masked, "
            "a causal nor a sequence-to-sequence language model, so it cannot fill a [MASK]")
    return family


def load_tokenizer(name: str, path: str | None = None):
    from transformers import AutoTokenizer
    path = path or resolve_model(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # transformers raises many kinds; the user needs one message
        raise ModelError(f"model `{name}`: cannot load its tokenizer from {path}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"model `{name}`: a fast (tokenizers) tokenizer is needed, got "
                         f"{type(tokenizer).__name__}")
    return tokenizer


def load_backbone(name: str, device=None, dtype=None, meta: bool = False):
    """(tokenizer, model, family) for the model called `name`, weights on `device`.

    `meta=True` builds the model from its config on the meta device: the right shapes and
    parameter counts, no weights read (for `promptc check`)."""
    import transformers
    path = resolve_model(name)
    config_file = Path(path, "config.json")
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() \
        else model_config(name)
    family = family_of(name, config)
    tokenizer = load_tokenizer(name, path)
    auto_class = families.get(family).auto_class
    auto = getattr(transformers, auto_class)
    kwargs = {"dtype": dtype} if dtype is not None else {}
    try:
        if meta:
            import torch
            hf_config = transformers.AutoConfig.from_pretrained(path)
            with torch.device("meta"):
                model = auto.from_config(hf_config, **kwargs)
        else:
            model = auto.from_pretrained(path, **kwargs)
    except Exception as exc:
        raise ModelError(f"model `{name}`: cannot load it from {path} with {auto_class}: "
                         f"{exc}") from exc
    if device is not None and not meta:
        model.to(device)
    model.eval()
    return tokenizer, model, family

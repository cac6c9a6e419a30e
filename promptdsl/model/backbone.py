"""Loading the backbone: a `model:` name → a directory (through the registry's model sources) →
tokenizer + model through the transformers Auto classes, with the family read from the config.

No model list here: which Auto class loads a model follows from its family
(`promptdsl.families`), and which names exist is up to the model-source plugins.

Every transformers load passes `trust_remote_code` explicitly (False unless the task sets
`trust_remote_code: true`), so transformers never asks on stdin and never imports a model
folder's own Python files; a model whose weights leave its language-model head (or anything
else) newly initialised is refused rather than trained with random weights.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import families
from ..errors import ModelError
from ..families import family_of_config, lm_head_problem

# what AutoTokenizer reads: without any of them it falls back to a slow tokenizer or fails deep
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                   "spiece.model", "tokenizer.model", "sentencepiece.bpe.model")


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
    problem = lm_head_problem(config)
    if problem:
        raise ModelError(f"model `{name}`: {problem}")
    return family


def _read_config(name: str, path: str) -> dict:
    """config.json of the resolved folder (else the source's config), as a JSON object."""
    config_file = Path(path, "config.json")
    if not config_file.is_file():
        return model_config(name)
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model `{name}`: {config_file} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelError(f"model `{name}`: {config_file} is not a JSON object")
    return config


def refuse_remote_code(name: str, path: str, config: dict, trust_remote_code: bool) -> None:
    """A folder that can only be loaded by running its own code (config.json `auto_map` and a
    `model_type` transformers does not know) is refused up front unless the task trusts it."""
    auto_map = config.get("auto_map")
    if trust_remote_code or not auto_map:
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    if config.get("model_type") in CONFIG_MAPPING:
        return                  # transformers' own class loads it; the folder's code is ignored
    raise ModelError(
        f"model `{name}`: {Path(path, 'config.json')} loads through the folder's own code "
        f"(auto_map: {', '.join(_code_files(auto_map)) or '?'}), which promptdsl does not "
        "run. Set `trust_remote_code: true` in the task only if you have read that code and "
        "trust it")


def _code_files(auto_map) -> list:
    """The .py files an `auto_map` names: {"AutoConfig": "evil.EvilConfig"} -> ["evil.py"]
    (a reference may be "repo--module.Class", or a [slow, fast] pair for tokenizers)."""
    refs = []
    for value in auto_map.values() if isinstance(auto_map, dict) else []:
        refs += value if isinstance(value, list) else [value]
    return sorted({ref.split("--")[-1].split(".")[0] + ".py" for ref in refs
                   if isinstance(ref, str) and ref})


def load_tokenizer(name: str, path: str | None = None, trust_remote_code: bool = False):
    from transformers import AutoTokenizer
    path = path or resolve_model(name)
    if not any(Path(path, f).is_file() for f in TOKENIZER_FILES):
        raise ModelError(f"model `{name}`: {path} has no tokenizer files (expected one of "
                         f"{', '.join(TOKENIZER_FILES)}); save the tokenizer next to the model "
                         "with tokenizer.save_pretrained(folder)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception as exc:  # transformers raises many kinds; the user needs one message
        raise ModelError(f"model `{name}`: cannot load its tokenizer from {path}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"model `{name}`: a fast (tokenizers) tokenizer is needed, got "
                         f"{type(tokenizer).__name__}")
    return tokenizer


def load_backbone(name: str, device=None, dtype=None, meta: bool = False,
                  trust_remote_code: bool = False):
    """(tokenizer, model, family) for the model called `name`, weights on `device`.

    `meta=True` builds the model from its config on the meta device: the right shapes and
    parameter counts, no weights read (for `promptc check`). `trust_remote_code`: whether the
    model folder's own code may run (the task's `trust_remote_code`)."""
    import transformers
    path = resolve_model(name)
    config = _read_config(name, path)
    refuse_remote_code(name, path, config, trust_remote_code)
    family = family_of(name, config)
    tokenizer = load_tokenizer(name, path, trust_remote_code)
    auto_class = families.get(family).auto_class
    auto = getattr(transformers, auto_class)
    kwargs = {"dtype": dtype} if dtype is not None else {}
    kwargs["trust_remote_code"] = bool(trust_remote_code)
    try:
        if meta:
            import torch
            hf_config = transformers.AutoConfig.from_pretrained(path, **kwargs)
            with torch.device("meta"):
                model = auto.from_config(hf_config, **kwargs)
        else:
            model, info = auto.from_pretrained(path, output_loading_info=True, **kwargs)
    except Exception as exc:
        raise ModelError(f"model `{name}`: cannot load it from {path} with {auto_class}: "
                         f"{exc}") from exc
    if not meta:
        refuse_new_weights(name, path, model, info)
    if device is not None and not meta:
        model.to(device)
    model.eval()
    return tokenizer, model, family


def refuse_new_weights(name: str, path: str, model, info: dict) -> None:
    """transformers initialises at random every weight the folder lacks (a bare `BertModel`
    has no masked-LM head): a model that would predict label words from random weights is
    refused, naming the head when it is among them."""
    missing = sorted(set(info.get("missing_keys") or ()) |
                     {key[0] if isinstance(key, tuple) else key
                      for key in info.get("mismatched_keys") or ()})
    if not missing:
        return
    prefix = f"{getattr(model, 'base_model_prefix', '')}."
    head = [key for key in missing if not key.startswith(prefix)]
    what = (f"its language-model head ({head[0]}{', …' if len(head) > 1 else ''})" if head
            else f"{len(missing)} weight(s) of the model ({missing[0]}, …)")
    raise ModelError(
        f"model `{name}`: {path} has no weights for {what}, so transformers would initialise "
        f"{'it' if head else 'them'} at random; {type(model).__name__} needs the weights of a "
        f"model saved with its language-model head (architectures in {path}/config.json: "
        f"{', '.join(model.config.architectures or []) or 'none'})")


def position_limit(tokenizer, hf_config) -> int | None:
    """How many tokens the model reads at most: its position table (absolute positions) and its
    tokenizer's model_max_length, whichever is smaller; None when neither says (T5's relative
    positions)."""
    limits = [getattr(hf_config, key, None) for key in ("max_position_embeddings", "n_positions")]
    limits.append(getattr(tokenizer, "model_max_length", None))
    limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
    return min(limits) if limits else None


def check_max_length(task: dict, tokenizer, backbone) -> None:
    """`train.max_length` must fit the model: a longer row would index past its position table
    deep inside torch."""
    max_length = int(task["train"]["max_length"])
    limit = position_limit(tokenizer, backbone.config)
    if limit is not None and max_length > limit:
        raise ModelError(f"train.max_length is {max_length}, but model `{task['model']}` reads "
                         f"at most {limit} tokens; set `max_length: {limit}` or less")

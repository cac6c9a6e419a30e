"""A model's config without loading weights: from a model-source plugin, a local folder, or the
Hugging Face cache (offline). Used only for the family rule of `promptc check`."""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from ..registry import get_registry


def _read_json(path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=64)
def model_config(model: str) -> dict | None:
    """The config dict of `model` (a folder, a source's name, a cached hub id), or None."""
    if os.path.isdir(model):      # unlike Path.is_dir, never raises (a name too long, a NUL)
        return _read_json(Path(model) / "config.json")
    for spec in get_registry().model_sources.values():
        # fallback sources (the hub) may go to the network: `check` reads the cache itself
        if spec.config is None or getattr(spec, "fallback", False):
            continue
        try:
            config = spec.config(model)
        except Exception:  # a source that cannot answer must not break `check`
            config = None
        if config:
            return dict(config)
    try:
        from huggingface_hub import try_to_load_from_cache
        cached = try_to_load_from_cache(model, "config.json")
    except Exception:
        cached = None
    return _read_json(cached) if isinstance(cached, str) else None

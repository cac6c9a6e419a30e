"""`model:` a Hugging Face hub id (e.g. `roberta-base`): a cached copy, else a download.

Asked after every other source. Without network access and no cached copy it resolves nothing,
and compile reports that no source knows the name.
"""
from __future__ import annotations

import json
import re

from promptdsl import ModelSourceSpec

# hub ids: "name" or "owner/name", letters, digits, - _ .
HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
WANTED = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*"]
UNWANTED = ["*.py"]      # a model's own code is never downloaded (docs/reliability.md)


def _download(name: str) -> str | None:
    if not HUB_ID.match(name):
        return None
    from huggingface_hub import snapshot_download
    try:
        return snapshot_download(name, allow_patterns=WANTED, ignore_patterns=UNWANTED,
                                 local_files_only=True)
    except Exception:  # not cached: try the network below
        pass
    try:
        return snapshot_download(name, allow_patterns=WANTED, ignore_patterns=UNWANTED)
    except Exception:  # offline, unknown id, gated: another source may know it
        return None


def resolve(name: str) -> str | None:
    return _download(name)


def config(name: str) -> dict | None:
    if not HUB_ID.match(name):
        return None
    from huggingface_hub import hf_hub_download
    for local_only in (True, False):
        try:
            path = hf_hub_download(name, "config.json", local_files_only=local_only)
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except Exception:  # not cached / offline / unknown: say nothing
            continue
    return None


SPECS = [ModelSourceSpec("huggingface-hub", resolve, config,
                         "a Hugging Face hub id (cached copy, or download when online)",
                         fallback=True)]

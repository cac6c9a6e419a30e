"""`model:` a local directory holding a Hugging Face model (config.json, weights, tokenizer)."""
from __future__ import annotations

import json
from pathlib import Path

from promptdsl import ModelSourceSpec
from promptdsl.errors import ModelError


def _directory(name: str) -> Path | None:
    path = Path(name).expanduser()
    return path if path.is_dir() else None


def resolve(name: str) -> str | None:
    path = _directory(name)
    if path is None:
        return None
    if not (path / "config.json").is_file():
        raise ModelError(f"model `{name}`: the directory has no config.json, so it is not a "
                         "Hugging Face model folder")
    return str(path.resolve())


def config(name: str) -> dict | None:
    path = _directory(name)
    if path is None or not (path / "config.json").is_file():
        return None
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelError(f"model `{name}`: config.json is not valid JSON: {exc}") from exc


SPECS = [ModelSourceSpec("local", resolve, config,
                         "a local directory with a Hugging Face model (from_pretrained as-is)")]

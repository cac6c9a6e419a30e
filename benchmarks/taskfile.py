"""Writes the benchmark's task as a `.prompt` file, so promptdsl runs go through its front end
exactly as a user's would. Kept free of promptdsl imports (the OpenPrompt venv imports
benchmarks.frameworks, not this)."""
from __future__ import annotations

import json
from pathlib import Path

from .sst2 import LABEL_WORDS

PROMPT = """task bench {{
  model: {model}
  data {{
    train: {train}
    test: {dev}
    label: label
  }}
  template: {template}
  verbalizer {{
{labels}
  }}
  method {method} {{ {options} }}
  train {{
    batch_size: {batch_size}
    eval_batch_size: {eval_batch_size}
    max_length: {max_length}
    learning_rate: {learning_rate}
    seed: {seed}
  }}
}}
"""


def options_text(options: dict) -> str:
    """`key: value` pairs in the language's syntax (JSON literals are valid values)."""
    return " ".join(f"{k}: {json.dumps(v)}" for k, v in options.items())


def write(path: Path, *, model_dir, train, dev, template: str, method: str,
          options: dict | None = None, batch_size: int = 8, eval_batch_size: int = 32,
          max_length: int = 128, learning_rate: float = 1e-5, seed: int = 13,
          label_words: dict = LABEL_WORDS) -> Path:
    labels = "\n".join(f"    {json.dumps(v)}: {json.dumps(w)}" for v, w in label_words.items())
    text = PROMPT.format(model=json.dumps(str(model_dir)), train=json.dumps(str(train)),
                         dev=json.dumps(str(dev)), template=json.dumps(template), labels=labels,
                         method=method, options=options_text(options or {}),
                         batch_size=batch_size, eval_batch_size=eval_batch_size,
                         max_length=max_length, learning_rate=learning_rate, seed=seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path

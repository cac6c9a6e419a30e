"""Task IR -> `.prompt` text: one self-contained task (no import, no extends) that our own front
end builds back into the same IR (apart from `file`, and data paths written to resolve from
where the text is saved). Fields equal to their schema default are left out.

    task_source(task_ir, name=None, base_dir=None) -> str

A sweep is not written: the text is one run's task. Values the language cannot spell (a
non-finite number, an option object of several keys) raise `SourceError`.
"""
from __future__ import annotations

import json
import math
import os
import re

from ..errors import PromptdslError
from ..registry import get_registry
from ..specs import LABEL_METRIC, TEXT_METRIC
from .build import DATA_FILES, DEFAULT_METRICS, DEFAULT_VERBALIZER, generates
from .schema import DATA, GENERATE, TRAIN, TRUST_REMOTE_CODE

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# what a string literal cannot hold as itself (strings.decode reads the escapes back)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
INDENT = "  "


class SourceError(PromptdslError):
    """A task IR holds a value that no .prompt file can write."""


def quote(text: str) -> str:
    """A double-quoted literal whose decoded value is `text`: backslash, quote and line breaks
    escaped, other control characters as \\uXXXX (a file normalises raw ones away)."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or ch in "\u0085\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            raise SourceError(f"the text {text[:40]!r} holds a lone surrogate, which no UTF-8 "
                              "file can hold")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def key_text(key: str) -> str:
    """A field key: bare when it is a name, else quoted."""
    return key if NAME.match(key) else quote(key)


def value_text(value) -> str:
    """A JSON value as the language writes it (`ast.plain` reads it back to the same value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SourceError(f"the number {value} cannot be written in a .prompt file")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict) and len(value) == 1:     # a tagged value: `text "It was"`
        (tag, inner), = value.items()
        if NAME.match(tag) and isinstance(inner, (str, int, float)) and \
                not isinstance(inner, bool):
            return f"{tag} {value_text(inner)}"
    raise SourceError(f"the value {json.dumps(value)[:60]} cannot be written in a .prompt file "
                      "(objects are one tag and a string or number: `tag \"value\"`)")


def _same(a, b) -> bool:
    """Equal as JSON (so 1 is not 1.0 and true is not 1)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _non_default(values: dict, schema: dict) -> dict:
    props = schema.get("properties") or {}
    return {k: v for k, v in values.items()
            if not (k in props and "default" in props[k] and _same(v, props[k]["default"]))}


def _path_text(path: str, base_dir) -> str:
    if base_dir is None:
        return os.path.abspath(path)
    return os.path.relpath(path, os.path.abspath(base_dir))


class _Writer:
    def __init__(self, registry, base_dir):
        self.registry, self.base_dir = registry, base_dir
        self.lines: list[str] = []

    def field(self, depth: int, key: str, text: str) -> None:
        self.lines.append(f"{INDENT * depth}{key}: {text}")

    def block(self, depth: int, head: str, fields: list) -> None:
        """`head { … }` with (key, value text) fields; `head { }` when there are none."""
        if not fields:
            self.lines.append(f"{INDENT * depth}{head} {{ }}")
            return
        self.lines.append(f"{INDENT * depth}{head} {{")
        for key, text in fields:
            self.field(depth + 1, key, text)
        self.lines.append(f"{INDENT * depth}}}")

    def options(self, options: dict, schema: dict) -> list:
        """(key, text) of the options that differ from the schema's defaults; files named by
        `format: path` options written like data paths (knowledge source names as they are)."""
        props = schema.get("properties") or {}
        out = []
        for key, value in _non_default(options, schema).items():
            sub = props.get(key) if isinstance(props.get(key), dict) else {}
            if sub.get("format") == "path" and isinstance(value, str) and \
                    value not in self.registry.knowledge_sources:
                value = _path_text(value, self.base_dir)
            out.append((key_text(key), value_text(value)))
        return out

    def model(self, model: str) -> str:
        """A local folder (absolute in the IR) relative to `base_dir`, starting with `.` so the
        front end reads it as a folder and not a hub id."""
        if self.base_dir is None or not os.path.isabs(model):
            if self.base_dir is not None and os.path.isdir(os.path.join(self.base_dir, model)):
                raise SourceError(f"model `{model}` would be read as the folder next to the "
                                  f"written file ({self.base_dir}); write it elsewhere")
            return model
        rel = os.path.relpath(model, os.path.abspath(self.base_dir))
        return rel if rel.startswith(".") else os.path.join(".", rel)


def task_source(task_ir: dict, *, name: str | None = None, base_dir=None) -> str:
    """The `.prompt` text of `task_ir` (one task, named `name` or the IR's name). Data paths are
    relative to `base_dir` (the folder the text will be saved in) when given, else absolute."""
    registry = get_registry()
    name = name or task_ir["name"]
    if not NAME.match(name):
        raise SourceError(f"`{name}` cannot name a task (a name is letters, digits and _)")
    w = _Writer(registry, base_dir)
    w.lines.append(f"task {name} {{")
    w.field(1, "model", quote(w.model(task_ir["model"])))
    if task_ir.get("trust_remote_code", TRUST_REMOTE_CODE["default"]):
        w.field(1, "trust_remote_code", "true")
    data = {k: (_path_text(v, base_dir) if k in DATA_FILES and v is not None else v)
            for k, v in _non_default(task_ir["data"], DATA).items()}
    w.block(1, "data", [(key_text(k), value_text(v)) for k, v in data.items()])
    if task_ir["templates"]:
        w.block(1, "templates", [(key_text(k), quote(t["text"]))
                                 for k, t in task_ir["templates"].items()])
    elif task_ir["template"] is not None:
        w.field(1, "template", quote(task_ir["template"]["text"]))
    if task_ir["target"] is not None:
        w.field(1, "target", quote(task_ir["target"]["text"]))
    if task_ir["verbalizer"] is not None:
        _verbalizer(w, task_ir["verbalizer"])
    for method in task_ir["methods"]:
        spec = registry.methods[method["name"]]
        w.block(1, f"method {method['name']}", w.options(method["options"], spec.schema))
    train = _non_default(task_ir["train"], TRAIN)
    if train:
        w.block(1, "train", [(key_text(k), value_text(v)) for k, v in train.items()])
    if task_ir["generate"] is not None:
        generate = _non_default(task_ir["generate"], GENERATE)
        if generate or task_ir["target"] is None:     # an explicit block without a target
            w.block(1, "generate", [(key_text(k), value_text(v)) for k, v in generate.items()])
    kind = TEXT_METRIC if generates(task_ir) else LABEL_METRIC
    if task_ir["metric"] != DEFAULT_METRICS[kind]:
        w.field(1, "metric", quote(task_ir["metric"]))
    w.lines.append("}")
    return "\n".join(w.lines) + "\n"


def _verbalizer(w: _Writer, verbalizer: dict) -> None:
    kind = verbalizer["kind"]
    spec = w.registry.verbalizers[kind]
    fields = []
    if verbalizer["mask"] is not None:
        fields.append(("mask", quote(verbalizer["mask"])))
    for entry in verbalizer["labels"]:
        masks = entry.get("masks")
        words = [f"{m} {quote(word)}" if masks else quote(word)
                 for word, m in zip(entry["words"], masks or entry["words"])]
        if masks and any(not NAME.match(m) for m in masks):
            raise SourceError(f"label `{entry['label']}`: a mask name is letters, digits and _")
        fields.append((quote(entry["label"]), ", ".join(words) if words else "[]"))
    fields += w.options(verbalizer["options"], spec.schema)
    w.block(1, "verbalizer" if kind == DEFAULT_VERBALIZER else f"verbalizer {kind}", fields)


__all__ = ["task_source", "quote", "value_text", "SourceError"]

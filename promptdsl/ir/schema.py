"""The JSON Schema of the task IR, with each plugin's option schema merged in, and the small
schema walks the front end needs (defaults, scalar-to-list, one number type)."""
from __future__ import annotations

import copy

from ..data.filters import FILTERS
from ..options import MAX_SOFT_TOKENS  # one `<soft*N>`: rows of a soft-token table
from ..registry import get_registry

SCHEMA_ID = "https://promptdsl.dev/schema/task-ir.json"


def _opt(kind, default, **more) -> dict:
    return {"type": kind, "default": default, **more}


def _path() -> dict:
    return {"type": ["string", "null"], "default": None}


MAX_LEARNING_RATE = 1e30       # AdamW divides it by (1 - beta1) = 0.1 in float32 (max ~3.4e38)
# Upper bounds where a larger value can only be a mistake (and would stall or exhaust memory
# before failing): counts of things a run does or holds at once.
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536
MAX_STEPS = 10 ** 9
MAX_LENGTH = 1_048_576          # tokens; no model reads more


DATA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "train": _path(), "validation": _path(), "test": _path(), "unlabeled": _path(),
        "label": _opt("string", "label", description="the column that holds the gold label"),
        "shots": _opt(["integer", "null"], None, minimum=1, maximum=MAX_BATCH,
                      description="examples drawn per label from train"),
        "sample_seed": _opt("integer", 13, minimum=0),
        "demonstrations": _opt("integer", 0, minimum=0, maximum=256),
        "demonstration_draw": _opt("string", "per_query", enum=["per_query", "fixed"],
                                   description="`per_query` draws each query's demonstrations "
                                   "anew; `fixed` puts the same ones (drawn once with "
                                   "`sample_seed`) before every query, so the prefix cache "
                                   "computes them once"),
        **{f"{split}_rows": _opt(["integer", "null"], None, minimum=1,
                                 description=f"use at most this many rows of `{split}` "
                                 "(null: all)")
           for split in ("train", "validation", "test", "unlabeled")},
        "take": _opt("string", "sample", enum=["sample", "first"],
                     description="how the `*_rows` limits pick rows: `sample` draws a seeded "
                     "sample with `sample_seed`, `first` keeps the first rows"),
    },
}

TRAIN = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "epochs": _opt("integer", 3, minimum=1, maximum=MAX_EPOCHS),
        "batch_size": _opt("integer", 8, minimum=1, maximum=MAX_BATCH),
        "eval_batch_size": _opt("integer", 32, minimum=1, maximum=MAX_BATCH),
        # above this AdamW's first step overflows float32 (lr / bias correction)
        "learning_rate": _opt("number", 1e-05, exclusiveMinimum=0, maximum=MAX_LEARNING_RATE),
        "weight_decay": _opt("number", 0.01, minimum=0),
        "warmup_ratio": _opt("number", 0.06, minimum=0, maximum=1),
        "grad_accumulation": _opt("integer", 1, minimum=1, maximum=MAX_BATCH),
        "max_grad_norm": _opt(["number", "null"], 1.0, minimum=0),
        "max_length": _opt("integer", 128, minimum=8, maximum=MAX_LENGTH),
        "seed": _opt("integer", 42, minimum=0),
        "max_steps": _opt(["integer", "null"], None, minimum=1, maximum=MAX_STEPS),
        "eval_every": _opt(["integer", "null"], None, minimum=1, maximum=MAX_STEPS,
                           description="steps between evaluations (null: once per epoch)"),
        "early_stopping": _opt(["integer", "null"], None, minimum=1, maximum=MAX_STEPS,
                               description="patience in evaluations (null: off)"),
        "device": _opt("string", "auto", enum=["auto", "cpu", "cuda"]),
        "precision": _opt("string", "auto", enum=["auto", "fp32", "bf16"]),
        "schedule": _opt("string", "linear", enum=["linear", "constant", "cosine"],
                         description="learning-rate schedule after the warm-up "
                         "(`warmup_ratio`): `linear` decays to 0, `constant` stays, `cosine` "
                         "decays along a half cosine to 0"),
        "save_every": _opt(["integer", "null"], None, minimum=1, maximum=MAX_STEPS,
                           description="optimizer steps between resumable states in the run "
                           "directory's state/ (null: at the end of each epoch)"),
        "prefix_cache": _opt("boolean", True,
                             description="on a causal LM, compute the tokens before a row's "
                             "first soft token once and reuse their key/value states (exact; "
                             "only when nothing else trainable reaches the backbone)"),
        "prefix_cache_mb": _opt("integer", 1024, minimum=1, maximum=1048576,
                                description="memory the prefix cache may hold, in MiB (least "
                                "recently used rows are dropped and recomputed)"),
        "on_nonfinite": _opt("string", "stop", enum=["stop", "skip"],
                             description="a NaN or infinite training loss: `stop` ends the run "
                             "with an error, `skip` drops that batch's update with a warning"),
        "log": _opt("array", [], items={"type": "string"},
                    description="experiment loggers (plugins, e.g. `tensorboard`) that receive "
                    "the loss, learning rate, metrics and throughput; `promptc train --log` adds more"),
    },
}


def train_schema() -> dict:
    """TRAIN with `log` limited to the installed loggers (an unknown one is a check error at it)."""
    schema = copy.deepcopy(TRAIN)
    schema["properties"]["log"]["items"]["enum"] = sorted(get_registry().loggers)
    return schema

MAX_NEW_TOKENS = 4096
MAX_BEAMS = 64

GENERATE = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "max_new_tokens": _opt("integer", 32, minimum=1, maximum=MAX_NEW_TOKENS,
                               description="generate at most this many tokens per input"),
        "beams": _opt("integer", 1, minimum=1, maximum=MAX_BEAMS,
                      description="beam-search width (1: greedy, or plain sampling)"),
        "do_sample": _opt("boolean", False, description="sample the next token (with "
                          "`temperature` and `top_p`) instead of taking the most likely one"),
        "temperature": _opt("number", 1.0, exclusiveMinimum=0, maximum=100,
                            description="divides the logits when sampling: below 1 sharper, "
                            "above 1 flatter"),
        "top_p": _opt("number", 1.0, exclusiveMinimum=0, maximum=1,
                      description="nucleus sampling: draw from the most likely tokens whose "
                      "probabilities add up to `top_p` (1: all)"),
        "stop": _opt(["array", "null"], None, items={"type": "string", "minLength": 1},
                     description="stop strings: generation stops at the first and the output "
                     "is cut there; null: a line break when targets are one line"),
    },
}

SOFT_COUNT = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_SOFT_TOKENS,
              "description": "`<soft*N>`: N soft tokens (null: as many as the init text has)"}

PIECE = {
    "type": "object",
    "oneOf": [
        {"properties": {"type": {"const": "text"}, "text": {"type": "string"}},
         "required": ["type", "text"], "additionalProperties": False},
        {"properties": {"type": {"const": "field"}, "name": {"type": "string"},
                        "filters": {"type": "array", "items": {"enum": list(FILTERS)}},
                        "shortenable": {"type": "boolean"}},
         "required": ["type", "name", "filters", "shortenable"], "additionalProperties": False},
        {"properties": {"type": {"const": "mask"}, "name": {"type": ["string", "null"]}},
         "required": ["type", "name"], "additionalProperties": False},
        {"properties": {"type": {"const": "soft"}, "count": SOFT_COUNT,
                        "init": {"type": ["string", "null"]},
                        "name": {"type": ["string", "null"],
                                 "description": "pieces of one name share their soft tokens"}},
         "required": ["type", "count", "init", "name"], "additionalProperties": False},
        {"properties": {"type": {"const": "special"}, "token": {"enum": ["sep", "cls"]}},
         "required": ["type", "token"], "additionalProperties": False},
    ],
}

TEMPLATE = {"type": "object", "additionalProperties": False, "required": ["text", "pieces"],
            "properties": {"text": {"type": "string"},
                           "pieces": {"type": "array", "items": {"$ref": "#/$defs/piece"}}}}

TRUST_REMOTE_CODE = _opt("boolean", False, description="let the model folder's own Python "
                         "code run (Hugging Face `trust_remote_code`); only for models you trust")

# the order of the IR's top-level keys (docs/internals.md §1)
TOP_KEYS = ("name", "file", "model", "trust_remote_code", "data", "template", "templates",
            "target", "verbalizer", "methods", "train", "generate", "metric", "sweep")


def _top_level(method_schema: dict, verbalizer_schema: dict) -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "promptdsl task IR",
        "type": "object", "additionalProperties": False,
        # task.json files written before `trust_remote_code` existed stay valid
        "required": [k for k in TOP_KEYS if k != "trust_remote_code"],
        "properties": {
            "name": {"type": "string"},
            "file": {"type": "string"},
            "model": {"type": "string"},
            "trust_remote_code": TRUST_REMOTE_CODE,
            "data": {"$ref": "#/$defs/data"},
            "template": {"anyOf": [{"$ref": "#/$defs/template"}, {"type": "null"}]},
            "templates": {"anyOf": [{"type": "object",
                                     "additionalProperties": {"$ref": "#/$defs/template"}},
                                    {"type": "null"}]},
            "target": {"anyOf": [{"$ref": "#/$defs/template"}, {"type": "null"}]},
            "verbalizer": {"anyOf": [verbalizer_schema, {"type": "null"}]},
            "methods": {"type": "array", "items": method_schema},
            "train": {"$ref": "#/$defs/train"},
            "generate": {"anyOf": [{"$ref": "#/$defs/generate"}, {"type": "null"}]},
            "metric": {"type": "string"},
            "sweep": {"anyOf": [{"type": "object", "additionalProperties": {"type": "array",
                                                                          "minItems": 1}},
                                {"type": "null"}]},
        },
        "$defs": {"data": DATA, "train": train_schema(), "generate": GENERATE, "template": TEMPLATE,
                  "piece": PIECE},
    }


def _by_name(key: str, specs: dict, options_at: str) -> dict:
    """`{key: NAME, options_at: …}` where the options follow the schema NAME's plugin declares."""
    return {"allOf": [{"if": {"properties": {key: {"const": name}}},
                       "then": {"properties": {options_at: spec.schema}}}
                      for name, spec in sorted(specs.items())]}


def ir_schema(registry=None) -> dict:
    """The full JSON Schema of the task IR, plugin option schemas included."""
    reg = registry or get_registry()
    method = {"type": "object", "additionalProperties": False, "required": ["name", "options"],
              "properties": {"name": {"enum": sorted(reg.methods)},
                             "options": {"type": "object"}},
              **_by_name("name", reg.methods, "options")}
    verbalizer = {
        "type": "object", "additionalProperties": False,
        "required": ["kind", "mask", "labels", "options"],
        "properties": {
            "kind": {"enum": sorted(reg.verbalizers)},
            "mask": {"type": ["string", "null"]},
            "labels": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["label", "words"],
                "properties": {"label": {"type": "string"},
                               "words": {"type": "array", "items": {"type": "string"}},
                               # the mask each word is for (`e1 "word"`: a rules verbalizer)
                               "masks": {"type": "array", "items": {"type": "string"}}}}},
            "options": {"type": "object"}},
        **_by_name("kind", reg.verbalizers, "options")}
    return _top_level(method, verbalizer)


def builtin_schema() -> dict:
    """The IR schema without plugin parts (method and verbalizer options are checked apart)."""
    return _top_level({"type": "object"}, {"type": "object"})


def _types(schema: dict) -> list:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return root["$defs"][ref[len("#/$defs/"):]]
    return schema


def coerce(value, schema: dict, root: dict | None = None):
    """Before validation: a scalar becomes a one-item list where the schema wants an array,
    and an integer becomes a float where it wants a number (one canonical form)."""
    schema = _resolve(schema or {}, root or schema or {})
    kinds = _types(schema)
    if "array" in kinds and not isinstance(value, list) and value is not None:
        value = [value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and "number" in kinds and "integer" not in kinds:
        return float(value)
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [coerce(v, items, root) for v in value]
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        return {k: coerce(v, props.get(k, {}), root) for k, v in value.items()}
    return value


def allows_null(schema: dict) -> bool:
    return "null" in _types(schema or {})


def drop_unset(values: dict, schema: dict) -> dict:
    """`key: null` unsets a field: it stays null where the schema allows null, else the key is
    dropped so that `fill_defaults` gives the field its default."""
    props = schema.get("properties") or {}
    return {k: v for k, v in values.items()
            if v is not None or k not in props or allows_null(props[k])}


def fill_defaults(value: dict, schema: dict) -> dict:
    """A copy of `value` with the schema's defaults filled in, keys in the schema's order."""
    props = schema.get("properties") or {}
    out = {}
    for key, sub in props.items():
        if key in value:
            out[key] = value[key]
            if isinstance(value[key], dict) and isinstance(sub, dict) and "properties" in sub:
                out[key] = fill_defaults(value[key], sub)
        elif isinstance(sub, dict) and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
    for key in value:            # options the schema does not list (open schemas) keep file order
        if key not in out:
            out[key] = value[key]
    return out

"""The data path's entry points for the model and the runtime.

- `renderer_for(model)`: the Renderer of a PromptModel (or anything with `tokenizer`, `family`,
  `task` and optionally `template.pieces`, `labels`, `backbone.config`).
- `encode(model, rows)`: Features of a Table / list of dicts / list of texts (cached when the
  rows come from a file).
- `encode_split(model, path, shots=…, sample_seed=…)`: read (+ sample) + encode one data file;
  a cache hit skips reading and tokenizing.
- `PromptDataset`: Features plus batching (`train_batches` / `eval_batches`), what the trainer
  iterates.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from . import cache
from .batching import eval_batches, restore_order, train_batches
from .collator import collate, collate_many
from .features import Features
from .readers import read_table
from .render import Renderer
from .sampling import sample_per_label
from .table import Table


def _pieces(model) -> list:
    template = getattr(model, "template", None)
    pieces = getattr(template, "pieces", None)
    if pieces is None:
        pieces = model.task["template"]["pieces"]
    return pieces


def reads_every_mask(task: dict) -> bool:
    """Whether the task's verbalizer reads every mask of the template: its label words are
    tagged with their masks (PTR's rules, `e1 "word"`)."""
    labels = (task.get("verbalizer") or {}).get("labels") or ()
    return any("masks" in entry for entry in labels)


def renderer_for(model, pieces: list | None = None) -> Renderer:
    """The model's Renderer, built once per template state (methods may prepend soft tokens);
    with `pieces`, the Renderer of those pieces instead of the template's, with every other
    setting (tokenizer, family, truncation, labels) the model's."""
    if isinstance(model, Renderer):
        return model
    task = getattr(model, "task", None) or {}
    target = task.get("target")
    labels = getattr(model, "labels", None) if target is None else None
    if labels is None and task.get("verbalizer"):
        labels = [entry["label"] for entry in task["verbalizer"]["labels"]]
    config = getattr(getattr(model, "backbone", None), "config", None)
    settings = dict(max_length=(task.get("train") or {}).get("max_length"),
                    labels=None if labels is None else [str(x) for x in labels],
                    label_column=(task.get("data") or {}).get("label"),
                    mask_name=(task.get("verbalizer") or {}).get("mask"),
                    decoder_start_token_id=getattr(config, "decoder_start_token_id", None),
                    target_pieces=None if target is None else target["pieces"],
                    read_masks=reads_every_mask(task))
    pieces = _pieces(model) if pieces is None else pieces
    key = json.dumps([pieces, settings, model.family, id(model.tokenizer)], sort_keys=True,
                     default=str)
    held = getattr(model, "_data_renderers", None)
    if held is None:
        held = {}
        try:
            object.__setattr__(model, "_data_renderers", held)
        except (AttributeError, TypeError):
            pass
    if key not in held:
        if len(held) >= 8:      # templates change rarely: a few states, never unbounded
            held.clear()
        held[key] = Renderer(model.tokenizer, pieces, model.family, **settings)
    return held[key]


def _renderer_key(renderer: Renderer, require_labels: bool) -> dict:
    return {"pieces": renderer.pieces, "family": renderer.family,
            "max_length": renderer.max_length, "labels": renderer.labels,
            "label_column": renderer.label_column, "mask": renderer.mask_name,
            "read_masks": renderer.read_masks,
            "decoder": renderer.decoder_input_ids, "require_labels": require_labels,
            "target": None if renderer.target is None else
            [renderer.target.pieces, renderer.target.lead, renderer.target.end],
            "tokenizer": cache.tokenizer_fingerprint(renderer.tokenizer)}


def _content_digest(table: Table, columns: list) -> str:
    """sha256 of the values the rendering reads (not of the file: a Table may have been
    filtered or edited in memory since it was read)."""
    digest = hashlib.sha256()
    for name in columns:
        digest.update(b"\x1e" + name.encode("utf-8") + b"\x1d")
        digest.update("\x1f".join(row[name] for row in table.rows).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def encode(model, rows, *, require_labels: bool = False, use_cache: bool = True,
           pieces: list | None = None) -> Features:
    """Render + tokenize `rows` through `model`'s template (or `pieces`) and tokenizer.

    A Table read from a file is cached under the content of the columns it renders; rows given
    in memory (lists) are not cached."""
    renderer = renderer_for(model, pieces)
    if not (use_cache and cache.enabled() and isinstance(rows, Table) and rows.path != "<input>"):
        return renderer.encode(rows, require_labels=require_labels)
    read = [*renderer.fields, *(renderer.target.fields if renderer.target else
                                [renderer.label_column])]
    columns = [c for c in dict.fromkeys(read) if c in rows.columns]
    key = cache.cache_key({"content": _content_digest(rows, columns), "columns": columns,
                           "rows": len(rows), "lines": hashlib.sha256(
                               np.asarray(rows.lines, np.int64).tobytes()).hexdigest(),
                           "path": rows.path, **_renderer_key(renderer, require_labels)})
    features = cache.load(key)
    if features is None:
        features = renderer.encode(rows, require_labels=require_labels, cache_fields=True)
        cache.save(key, features)
    return features


def encode_split(model, path, *, shots: int | None = None, sample_seed: int = 13,
                 require_labels: bool = True, purpose: str = "this split",
                 use_cache: bool = True) -> Features:
    """Read `path` (with `shots` rows per label drawn with `sample_seed`) and encode it. On a
    cache hit the file is hashed but neither parsed nor tokenized."""
    renderer = renderer_for(model)
    key = None
    if use_cache and cache.enabled():
        if not os.path.isfile(path):
            return encode_split(model, path, shots=shots, sample_seed=sample_seed,
                                require_labels=require_labels, purpose=purpose, use_cache=False)
        key = cache.cache_key({"file": cache.file_digest(path),
                               "shots": shots, "sample_seed": sample_seed if shots else None,
                               **_renderer_key(renderer, require_labels)})
        features = cache.load(key)
        if features is not None:
            return features
    table = read_table(path)
    table.require_rows(purpose)
    if shots:
        table = sample_per_label(table, renderer.label_column, int(shots), int(sample_seed),
                                 labels=renderer.labels)
    features = renderer.encode(table, require_labels=require_labels, cache_fields=bool(key))
    if key:
        cache.save(key, features)
    return features


class PromptDataset:
    """A split ready for the trainer: `features`, and batches of row indices + tensors.

    Batches are padded `chunk` at a time in one vectorised pass (`collate_many`)."""

    def __init__(self, features: Features, chunk: int = 256):
        self.features, self.chunk = features, chunk

    def __len__(self) -> int:
        return len(self.features)

    def collated(self, batches):
        """Yield (indices, batch) for lists of row indices, `chunk` batches padded at a time."""
        for start in range(0, len(batches), self.chunk):
            part = batches[start:start + self.chunk]
            yield from zip(part, collate_many(self.features, part))

    def epoch_batches(self, batch_size: int, seed: int, epoch: int = 0) -> list:
        """The row indices of each training batch of one epoch: shuffled with (seed, epoch),
        length-bucketed."""
        return train_batches(self.features.lengths, batch_size, seed, epoch)

    def train_batches(self, batch_size: int, seed: int, epoch: int = 0):
        """Yield (indices, batch) of `epoch_batches`."""
        yield from self.collated(self.epoch_batches(batch_size, seed, epoch))

    def num_eval_batches(self, batch_size: int) -> int:
        return -(-len(self.features) // int(batch_size))

    def eval_batches(self, batch_size: int):
        """Yield (indices, batch), longest rows first; use `restore_order` on the outputs."""
        yield from self.collated(eval_batches(self.features.lengths, batch_size))


__all__ = ["renderer_for", "encode", "encode_split", "collate", "PromptDataset",
           "train_batches", "eval_batches", "restore_order", "Features"]

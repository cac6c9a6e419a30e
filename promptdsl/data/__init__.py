"""The data path: read → sample → render + tokenize (batched) → cache → batches.

Importing this package is light (no torch, no transformers): `Table`, `read_table`,
`read_header`, `sample_per_label`, and for data-format plugins `read_text(path)` (UTF-8 with
located errors), `first_line(path)` -> (line number, text), `split_lines(text)`. The tensor
side is loaded on first use: `encode(model, rows) -> Features`,
`encode_split(model, path, shots=…)`, `collate(features, indices=None) -> batch`, `PromptDataset`, `Renderer`, `train_batches`,
`eval_batches`, `restore_order`, `label_word_ids`, `answer_token_ids(tokenizer, family, texts,
mask_space)` (answers tokenized as generation targets). See docs/data.md.
"""
from ..lazy import lazy_exports

from .readers import format_for, read_header, read_table
from .sampling import sample_per_label
from .table import Table
from .textfile import first_line, read_text, split_lines

_LAZY = {
    "encode": "api", "encode_split": "api", "renderer_for": "api", "PromptDataset": "api",
    "collate": "collator", "collate_many": "collator", "padding_waste": "collator",
    "Features": "features",
    "Renderer": "render", "as_table": "render", "train_batches": "batching", "eval_batches": "batching",
    "restore_order": "batching", "label_word_ids": "tokens", "answer_token_ids": "targets",
    "add_demonstrations": "demonstrations",
}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = ["Table", "read_table", "read_header", "format_for", "sample_per_label",
           "read_text", "first_line", "split_lines", *_LAZY]

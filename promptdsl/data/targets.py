"""Generation targets (`target: "{ref}"`): the text the [MASK] slot should produce, per row.

The target template holds text and fields only. Its text is the fields' values (stripped,
filters applied) between the template's own text, stripped at both ends. Its tokens are what the
model is trained to produce after the prompt: with one leading space when the [MASK] follows
whitespace and the tokenizer marks word starts with it (as label words get), then the end of
sequence (causal: the tokenizer's eos; seq2seq: what the tokenizer appends to a text, e.g. T5's
</s>), so that the model learns to stop.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from . import tokens
from .filters import apply_filters


class TargetRenderer:
    """Renders the target of each row: `texts(table)` (what metrics compare) and
    `token_ids(texts)` (what training predicts)."""

    def __init__(self, tokenizer, pieces: list, family_rules, lead_space: bool):
        bad = [p["type"] for p in pieces if p["type"] not in ("text", "field")]
        if bad:
            raise ModelError(f"the target may hold text and fields only, not a {bad[0]} piece")
        self.tokenizer, self.pieces = tokenizer, [dict(p) for p in pieces]
        self.fields = [p["name"] for p in pieces if p["type"] == "field"]
        self.lead = " " if lead_space and tokens.leading_space_matters(tokenizer) else ""
        self.end = _end_ids(tokenizer, family_rules)

    def texts(self, table) -> list:
        """The target text of every row of `table` (a Table with the target's fields)."""
        table.require_columns(self.fields, role="column for the target field")
        parts = []
        for piece in self.pieces:
            if piece["type"] == "text":
                parts.append([piece["text"]] * len(table))
            else:
                parts.append(apply_filters([r[piece["name"]].strip() for r in table.rows],
                                           tuple(piece.get("filters") or ())))
        return ["".join(row).strip() for row in zip(*parts)] if parts else [""] * len(table)

    def token_ids(self, texts: list) -> tuple:
        """(flat int64 ids, int64 per-row lengths) of each target followed by the end ids."""
        flat, lengths = tokens.token_ids_flat(self.tokenizer, [self.lead + t if t else t
                                                               for t in texts])
        if not self.end:
            return flat, lengths
        m = len(self.end)
        ends = np.repeat(np.cumsum(lengths), m)      # after each row's tokens, in order
        return np.insert(flat, ends, np.tile(np.asarray(self.end, np.int64), len(lengths))), \
            lengths + m


def _end_ids(tokenizer, family_rules) -> list:
    """What ends a target: the tokens the tokenizer appends to a text when the family keeps them
    (seq2seq: </s>), else the eos token; nothing when the tokenizer has neither."""
    suffix = tokens.special_frame(tokenizer)[1] if family_rules.keep_suffix else []
    if suffix:
        return list(suffix)
    eos = getattr(tokenizer, "eos_token_id", None)
    return [int(eos)] if eos is not None else []


def answer_token_ids(tokenizer, family, texts: list, mask_space: bool) -> tuple:
    """(flat ids, per-text lengths) of answer texts tokenized as a target would be (the leading
    space rule, then the end of sequence): the candidates a verbalizer that reads whole
    sequences scores."""
    from .. import families
    return TargetRenderer(tokenizer, [], families.get(family), mask_space).token_ids(
        [t.strip() for t in texts])

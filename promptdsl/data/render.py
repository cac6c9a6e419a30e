"""Rendering + tokenization of whole splits in a few batched tokenizer calls (internals §2).

A template is compiled once into a plan of pieces: constant pieces (text, [SEP]/[CLS], the
model's own special tokens, the mask token) are tokenized once; each field is tokenized for all
rows in one call to the fast tokenizer; soft pieces become soft-table indices. The rows are then
assembled into flat arrays with numpy (see `Features`).

Whitespace rule: a piece preceded by spaces in the template gets one leading space (so that
" great" is what the model predicts after "was "), line breaks and tabs are kept as written,
trailing whitespace moves to the next piece, and field values are stripped. Tokenizers that mark word starts themselves (WordPiece,
SentencePiece) get no extra space (see `tokens.leading_space_matters`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import families
from ..errors import DataError, ModelError
from . import tokens
from .features import FIELD, MASK, SHORTENABLE, SOFT, SPECIAL, Features, ragged_within
from .filters import apply_filters
from .labels import label_indices
from .table import Table
from .targets import TargetRenderer
from .truncate import truncate_fields


@dataclass
class Step:
    """One compiled piece: constant tokens, or a field filled per row."""
    kind: str                       # "const" | "field"
    ids: np.ndarray | None = None   # const: token ids (soft: pad ids)
    soft: np.ndarray | None = None  # const soft: soft-table indices
    flag: int = 0
    field: str | None = None        # field: column name
    filters: tuple = ()
    lead: str = ""                  # field: what each value starts with (see `leading`)
    lead_space: bool = False        # mask: whitespace right before it ends in a space
    shortenable: bool = False
    mask: str | None = None         # the mask's name for a mask step ("" when unnamed)


def leading(ws: str, space: bool) -> str:
    """What a piece that follows the template whitespace `ws` starts with. Line breaks and tabs
    are text the model reads ("Review: …\nSentiment:"), so they stay as written; a run of
    spaces becomes one space, and only for tokenizers that mark word starts with it."""
    breaks = ws.replace(" ", "")
    if breaks:
        return breaks
    return " " if ws and space else ""


def soft_count(tokenizer, piece: dict) -> int:
    """How many soft tokens a soft piece stands for: `count`, or one per token of `init`."""
    if piece.get("count"):
        return int(piece["count"])
    if piece.get("init"):
        return len(soft_init_ids(tokenizer, piece["init"]))
    return 1


def soft_init_ids(tokenizer, init: str) -> list:
    """Token ids whose embeddings initialise `<soft 'init'>` (one soft token per id)."""
    return tokens.token_ids(tokenizer, [init.strip()])[0]


class Renderer:
    """Renders rows through one template and tokenizer.

    `pieces`: template pieces (internals §1). A soft piece may carry `"first"`: its start index
    in the soft-token table (default: soft pieces are numbered in order from 0).
    `labels`: label values in verbalizer order (their index is the class id); `label_column`:
    the column holding them; `mask_name`: which [MASK] is read (None: the first). `family`: a
    family name (or a `families.Family`); `family_rules`, its Family, decides everything that
    differs by family. `target_pieces`: a generation task's target template (see
    `promptdsl.data.targets`); its rows' targets are then read instead of labels.
    """

    def __init__(self, tokenizer, pieces: list, family: str, *, max_length: int | None = None,
                 labels: list | None = None, label_column: str | None = None,
                 mask_name: str | None = None, decoder_start_token_id: int | None = None,
                 target_pieces: list | None = None, read_masks: bool = False):
        self.family_rules = families.get(family)
        self.tokenizer, self.family, self.max_length = tokenizer, self.family_rules.name, max_length
        self.pieces = [dict(p) for p in pieces]
        self.labels = [str(x) for x in labels] if labels is not None else None
        self.label_column, self.mask_name = label_column, mask_name
        self.read_masks = read_masks
        self.pad_id = tokens.pad_id(tokenizer)
        self.space = tokens.leading_space_matters(tokenizer)
        self.steps, self.n_soft = self._compile()
        self.fields = [s.field for s in self.steps if s.kind == "field"]
        self.read_step = self._read_step()
        # every mask in template order (`read_masks`: a verbalizer reads them all, PTR)
        self.mask_steps = [i for i, s in enumerate(self.steps) if s.mask is not None]
        self.mask_names = [self.steps[i].mask for i in self.mask_steps]
        self.mask_spaces = [self.steps[i].lead_space for i in self.mask_steps]
        # label words get a leading space iff the read mask follows whitespace
        self.mask_space = self.steps[self.read_step].lead_space if self.read_step is not None \
            else True
        self.decoder_input_ids = self._decoder_prefix(decoder_start_token_id)
        self.target = None if target_pieces is None else TargetRenderer(
            tokenizer, target_pieces, self.family_rules, self.mask_space)

    # ------------------------------------------------------------------ compile the template
    def _compile(self):
        rules = self.family_rules
        problem = rules.placement_error(self.pieces, filled=self.read_masks)
        if problem:
            raise ModelError(problem)
        masks = [p for p in self.pieces if p["type"] == "mask"]
        mask_tokens = iter(tokens.mask_ids(self.tokenizer, rules, len(masks)))
        prefix, suffix = self._unless_written(*rules.frame(*tokens.special_frame(self.tokenizer)))

        steps, texts, ws, next_soft = [], [], "", 0   # ws: whitespace waiting for the next piece
        const = lambda ids, flag=0, **kw: Step("const", np.asarray(ids, np.int64), flag=flag, **kw)
        if prefix:
            steps.append(const(prefix, SPECIAL))
        for piece in self.pieces:
            kind = piece["type"]
            if kind not in ("text", "field") and ws.replace(" ", ""):
                # line breaks before a mask, soft or special token are text the model reads
                texts.append((len(steps), ws.replace(" ", "")))
                steps.append(None)
            if kind == "text":
                text = piece["text"]
                body = text.strip()
                if body:
                    before = ws + text[:len(text) - len(text.lstrip())]
                    texts.append((len(steps), leading(before, self.space) + body))
                    steps.append(None)  # filled after one batched tokenizer call
                    ws = text[len(text.rstrip()):]
                else:
                    ws += text
            elif kind == "field":
                steps.append(Step("field", field=piece["name"],
                                  filters=tuple(piece.get("filters") or ()),
                                  lead=leading(ws, self.space),
                                  shortenable=bool(piece.get("shortenable", True))))
                ws = ""
            elif kind == "mask":
                ids = [next(mask_tokens)] if rules.mask_in_input else []
                steps.append(const(ids, MASK, mask=piece.get("name") or "",
                                   lead_space=ws.endswith(" ")))
                ws = ""
            elif kind == "soft":
                n = soft_count(self.tokenizer, piece)
                first = int(piece.get("first", next_soft))
                steps.append(const([self.pad_id] * n, SOFT,
                                   soft=np.arange(first, first + n, dtype=np.int32)))
                next_soft = max(next_soft, first + n)
                ws = ""
            elif kind == "special":
                steps.append(const([tokens.special_id(self.tokenizer, piece["token"])], SPECIAL))
                ws = ""
            else:
                raise ModelError(f"unknown template piece type '{kind}'")
        for (index, _), ids in zip(texts, tokens.token_ids(self.tokenizer, [t for _, t in texts])):
            steps[index] = const(ids)
        if suffix:
            steps.append(const(suffix, SPECIAL))
        return steps, next_soft

    def _unless_written(self, prefix: list, suffix: list) -> tuple:
        """A template that writes the model's own frame itself ("[CLS] … [SEP]" for BERT) does
        not get it twice."""
        ends = [p for p in self.pieces if not (p["type"] == "text" and not p["text"].strip())]

        def special(piece):
            if piece["type"] != "special":
                return None
            return tokens.special_id(self.tokenizer, piece["token"])
        if len(prefix) == 1 and ends and special(ends[0]) == prefix[0]:
            prefix = []
        if len(suffix) == 1 and ends and special(ends[-1]) == suffix[0]:
            suffix = []
        return prefix, suffix

    def _read_step(self) -> int | None:
        """Index of the mask step whose prediction is read."""
        masks = [i for i, s in enumerate(self.steps) if s.mask is not None]
        if not masks:
            return None
        if self.mask_name is None:
            return masks[0]
        for i in masks:
            if self.steps[i].mask == self.mask_name:
                return i
        raise ModelError(f"the template has no [MASK:{self.mask_name}]")

    def _decoder_prefix(self, start_id):
        """The family's decoder input (None without a decoder); a read mask that is a sentinel
        (the tokenizer has no mask token) opens the span the decoder predicts."""
        rules, sentinel = self.family_rules, None
        if rules.has_decoder and self.read_step is not None and \
                getattr(self.tokenizer, "mask_token", None) is None:
            sentinel = int(self.steps[self.read_step].ids[0])
        return rules.decoder_prefix(start_id, self.pad_id, sentinel)

    # ------------------------------------------------------------------ render rows
    def encode(self, rows, *, require_labels: bool = False, cache_fields: bool = False) -> Features:
        """Render and tokenize `rows`: a Table, a list of dicts, or a list of strings (only for
        templates with one field). Labels are read when the label column is present (and must
        be when `require_labels`); a generation task reads its targets the same way (required
        with `require_labels`, else when all their fields are there). `cache_fields`: reuse (and
        store) the tokens of large field columns in the tokenization cache (see
        promptdsl.data.cache)."""
        table = as_table(rows, self.fields)
        table.require_columns(self.fields, role="column for the template field")
        n = len(table)
        labels = targets = None
        if self.target is not None:
            if require_labels or all(f in table.columns for f in self.target.fields):
                targets = self.target.token_ids(self.target.texts(table))
        elif self.label_column and (require_labels or self.label_column in table.columns):
            if self.labels is None:
                raise ModelError("labels are needed but the verbalizer gave none")
            labels = label_indices(table, self.label_column, self.labels)

        field_steps = [s for s in self.steps if s.kind == "field"]
        field_ids, field_lens = [], []
        for step in field_steps:
            name = step.field
            values = apply_filters([r[name].strip() for r in table.rows], step.filters)
            if step.lead:  # an empty value stays empty (a lone space is a token)
                values = [step.lead + v if v else v for v in values]
            if cache_fields:
                from . import cache
                flat, lengths = cache.field_token_ids(self.tokenizer, values,
                                                      tokens.token_ids_flat)
            else:
                flat, lengths = tokens.token_ids_flat(self.tokenizer, values)
            field_ids.append(flat)
            field_lens.append(lengths)
        kept = np.stack(field_lens, axis=1) if field_lens else np.zeros((n, 0), np.int64)
        if self.max_length is not None:
            fixed = self._const_length()
            if targets is not None and not self.family_rules.has_decoder:
                fixed = fixed + targets[1]   # a causal model reads prompt and target as one row
            kept = truncate_fields(kept, [s.shortenable for s in field_steps], fixed,
                                   self.max_length, table)
        features = self._assemble(table, labels, field_ids, field_lens, kept)
        if targets is not None:
            features.set_targets(*targets)
        return features

    def _const_length(self) -> int:
        return sum(len(s.ids) for s in self.steps if s.kind == "const")

    def _assemble(self, table, labels, field_ids, field_lens, kept) -> Features:
        n, steps = len(table), self.steps
        piece_lens = np.zeros((n, len(steps)), np.int64)
        j = 0
        for p, step in enumerate(steps):
            if step.kind == "const":
                piece_lens[:, p] = len(step.ids)
            else:
                piece_lens[:, p] = kept[:, j]
                j += 1
        row_len = piece_lens.sum(axis=1)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(row_len, out=offsets[1:])
        starts = offsets[:-1, None] + np.cumsum(piece_lens, axis=1) - piece_lens
        total = int(offsets[-1])
        ids = np.empty(total, np.int64)
        soft = np.full(total, -1, np.int32)
        flags = np.zeros(total, np.uint8)
        j = 0
        for p, step in enumerate(steps):
            if step.kind == "const":
                m = len(step.ids)
                if m == 0 or n == 0:
                    continue
                pos = (starts[:, p, None] + np.arange(m)).ravel()
                ids[pos] = np.tile(step.ids, n)
                flags[pos] = step.flag
                if step.soft is not None:
                    soft[pos] = np.tile(step.soft, n)
                continue
            k = kept[:, j]
            src_start = np.zeros(n, np.int64)
            np.cumsum(field_lens[j][:-1], out=src_start[1:])
            rows = np.repeat(np.arange(n), k)
            within = ragged_within(k)
            dst = starts[rows, p] + within
            ids[dst] = field_ids[j][src_start[rows] + within]
            flags[dst] = FIELD | (SHORTENABLE if step.shortenable else 0)
            j += 1
        if self.family_rules.reads_next_token or self.read_step is None:
            mask_rel = row_len - 1  # the last real token predicts what comes next
        else:
            mask_rel = starts[:, self.read_step] - offsets[:-1]
        masks_rel = None
        if self.read_masks:
            masks_rel = np.ascontiguousarray(starts[:, self.mask_steps] - offsets[:-1, None])
        return Features(ids=ids, soft=soft, flags=flags, offsets=offsets, mask_rel=mask_rel,
                        labels=labels, lines=np.asarray(table.lines, np.int64), path=table.path,
                        family=self.family, pad_id=self.pad_id,
                        decoder_input_ids=self.decoder_input_ids, mask_space=self.mask_space,
                        masks_rel=masks_rel)


def as_table(rows, fields: list) -> Table:
    """A Table from a Table, a list of dicts (lines 1…N of "<input>"), or a list of strings
    (for a template with exactly one field)."""
    if isinstance(rows, Table):
        return rows
    rows = list(rows)
    if rows and all(isinstance(r, str) for r in rows):
        names = list(dict.fromkeys(fields))
        if len(names) != 1:
            raise DataError(f"plain texts fit a template with one field; this one has "
                            f"{len(names)} ({', '.join(names)}): pass rows as dicts", "<input>")
        rows = [{names[0]: r} for r in rows]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"a row must be a dict of column -> text, got {type(row).__name__}",
                            "<input>", i + 1)
    columns = list(dict.fromkeys(k for r in rows[:1] for k in r))
    for i, row in enumerate(rows):
        missing = [c for c in fields if c not in row]
        if missing:
            raise DataError(f"the row lacks the column '{missing[0]}'", "<input>", i + 1)
    rows = [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]
    return Table("<input>", columns or list(dict.fromkeys(fields)), rows,
                 list(range(1, len(rows) + 1)), header_line=None)

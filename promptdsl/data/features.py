"""`Features`: a whole split rendered and tokenized, stored flat (one array of all tokens plus
row offsets) so that batches are cut out with numpy indexing, never a Python loop per row."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np

from .. import families

# per-token flags: what piece of the template a token came from
FIELD, SOFT, MASK, SHORTENABLE, SPECIAL = 1, 2, 4, 8, 16


@dataclass
class Features:
    """Rendered rows. Row i's tokens are `ids[offsets[i]:offsets[i+1]]`.

    - `ids`: token ids (soft positions hold `pad_id`); `soft`: -1 for hard tokens, else the index
      into the soft-token table; `flags`: FIELD | SOFT | MASK | SHORTENABLE | SPECIAL bits.
    - `mask_rel`: position inside the row of the token whose prediction is read (the mask for
      mlm / seq2seq encoder input, the last token for causal).
    - `labels`: label index per row, or None when the split has no labels.
    - `lines`: source line of each row in `path` (for error messages and predictions).
    - `decoder_input_ids`: seq2seq only, the same decoder prefix for every row.
    - `mask_space`: whether [MASK] follows whitespace (label words then get a leading space).
    - `target_ids` / `target_offsets`: a generation task's target tokens per row (row i's are
      `target_ids[target_offsets[i]:target_offsets[i+1]]`, ending with the end of sequence), or
      None (see `promptdsl.data.targets`).
    - `masks_rel`: [rows, masks] where each mask of the template stands in the row, in template
      order, for a verbalizer that reads several masks (None otherwise): the mask token's
      position, or where its words go when the mask is not in the input (causal).
    """
    ids: np.ndarray
    soft: np.ndarray
    flags: np.ndarray
    offsets: np.ndarray
    mask_rel: np.ndarray
    labels: np.ndarray | None
    lines: np.ndarray
    path: str
    family: str
    pad_id: int
    decoder_input_ids: list | None = None
    mask_space: bool = True
    meta: dict = field(default_factory=dict)
    target_ids: np.ndarray | None = None
    target_offsets: np.ndarray | None = None
    masks_rel: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def family_rules(self):
        """The `families.Family` of `family`."""
        return families.get(self.family)

    @property
    def padding_side(self) -> str:
        """The family's (left where the last position is read, so it is always a real token)."""
        return self.family_rules.padding_side

    @property
    def has_targets(self) -> bool:
        return self.target_offsets is not None

    @property
    def target_lengths(self) -> np.ndarray:
        return np.diff(self.target_offsets)

    def set_targets(self, flat: np.ndarray, lengths: np.ndarray) -> None:
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self.target_ids, self.target_offsets = np.asarray(flat, np.int64), offsets

    def without_targets(self) -> "Features":
        """The same rows without their targets: what generation starts from."""
        return dataclasses.replace(self, target_ids=None, target_offsets=None)

    def input_groups(self) -> tuple:
        """(group of each row, first row of each group): rows whose tokens and soft positions
        are identical are one input (the rows of a multi-reference target); groups are numbered
        in order of first appearance."""
        index_of, firsts, group = {}, [], []
        for i, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            key = self.ids[a:b].tobytes() + b"|" + self.soft[a:b].tobytes()
            if key not in index_of:
                index_of[key] = len(firsts)
                firsts.append(i)
            group.append(index_of[key])
        return group, firsts

    def row(self, i: int) -> dict:
        """One row's arrays (for debugging and tests)."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return {"ids": self.ids[a:b].tolist(), "soft": self.soft[a:b].tolist(),
                "flags": self.flags[a:b].tolist(), "mask_rel": int(self.mask_rel[i]),
                "label": None if self.labels is None else int(self.labels[i]),
                "line": int(self.lines[i])}

    def select(self, indices) -> "Features":
        """A new Features holding rows `indices`, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        starts, ends = self.offsets[indices], self.offsets[indices + 1]
        take = _ragged_take(starts, ends - starts)
        offsets = np.zeros(len(indices) + 1, np.int64)
        np.cumsum(ends - starts, out=offsets[1:])
        out = Features(self.ids[take], self.soft[take], self.flags[take], offsets,
                       self.mask_rel[indices],
                       None if self.labels is None else self.labels[indices],
                       self.lines[indices], self.path, self.family, self.pad_id,
                       self.decoder_input_ids, self.mask_space, dict(self.meta),
                       masks_rel=None if self.masks_rel is None else self.masks_rel[indices])
        if self.has_targets:
            out.set_targets(*self.targets_of(indices))
        return out

    def targets_of(self, indices) -> tuple:
        """(flat target ids, per-row lengths) of rows `indices`, in that order."""
        starts = self.target_offsets[indices]
        lengths = self.target_offsets[np.asarray(indices) + 1] - starts
        return self.target_ids[_ragged_take(starts, lengths)], lengths

    # -- (de)serialisation for the cache: arrays as tensors, the rest as JSON metadata
    _ARRAYS = ("ids", "soft", "flags", "offsets", "mask_rel", "labels", "lines", "target_ids",
               "target_offsets", "masks_rel")

    def to_arrays(self) -> tuple:
        arrays = {k: np.ascontiguousarray(getattr(self, k)) for k in self._ARRAYS
                  if getattr(self, k) is not None}
        meta = {"path": self.path, "family": self.family, "pad_id": self.pad_id,
                "decoder_input_ids": self.decoder_input_ids, "mask_space": self.mask_space,
                "meta": self.meta}
        return arrays, {"features": json.dumps(meta)}

    @classmethod
    def from_arrays(cls, arrays: dict, metadata: dict) -> "Features":
        meta = json.loads(metadata["features"])
        return cls(**{k: arrays.get(k) for k in cls._ARRAYS}, **meta)


def ragged_within(lengths: np.ndarray) -> np.ndarray:
    """0, 1, …, n-1 for each length n, concatenated: the position of every element of a ragged
    array inside its own row (vectorised, no Python loop)."""
    lengths = np.asarray(lengths, np.int64)
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def _ragged_take(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Flat indices of rows `starts[i] : starts[i] + lengths[i]`, concatenated."""
    return np.repeat(starts, lengths) + ragged_within(lengths)

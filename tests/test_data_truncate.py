"""Truncation properties (hypothesis): rows fit, only shortenable fields shrink, from the
longest down, by exactly the excess."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tiny
from promptdsl.data import Renderer, Table
from promptdsl.data.features import MASK
from promptdsl.data.truncate import truncate_fields
from promptdsl.errors import DataError


class Where:
    def where(self, i):
        return "x.tsv", i + 2


fields = st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(fields, st.integers(0, 10), st.integers(1, 120))
def test_cut_is_water_filling(spec, const, max_length):
    lengths = np.array([[n for n, _ in spec]], np.int64)
    shortenable = [s for _, s in spec]
    total = int(lengths.sum()) + const
    room = sum(n for n, s in spec if s)
    if total - room > max_length:
        with pytest.raises(DataError):
            truncate_fields(lengths, shortenable, const, max_length, Where())
        return
    kept = truncate_fields(lengths, shortenable, const, max_length, Where())[0]
    orig = lengths[0]
    assert kept.sum() + const == min(total, max_length)           # cut exactly the excess
    for k, o, s in zip(kept, orig, shortenable):
        assert 0 <= k <= o and (s or k == o)                      # keep fields never shrink
    cut = [k for k, o in zip(kept, orig) if k < o]
    if cut:
        level = min(cut)
        assert max(cut) <= level + 1                              # cut fields end level
        uncut = [o for k, o, s in zip(kept, orig, shortenable) if s and k == o]
        assert all(o <= level + 1 for o in uncut)                 # nothing longer was spared


_TOKENIZER = {}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(tiny.WORDS), min_size=0, max_size=30),
       st.lists(st.sampled_from(tiny.WORDS), min_size=1, max_size=6),
       st.integers(12, 30))
def test_rendered_rows_keep_keep_fields_and_the_mask(long_words, kept_words, max_length):
    tokenizer = _TOKENIZER.setdefault("t", tiny.build_tokenizer("bert"))
    renderer = Renderer(tokenizer, tiny.pieces_from_text("{a} {b|keep} It was [MASK] ."), "mlm",
                        max_length=max_length)
    row = {"a": " ".join(long_words), "b": " ".join(kept_words)}
    table = Table("x.tsv", ["a", "b"], [row], [2])
    b_ids = tokenizer(row["b"], add_special_tokens=False)["input_ids"]
    if len(b_ids) + 6 > max_length:  # [CLS] it was [MASK] . [SEP] around the keep field
        with pytest.raises(DataError, match="x.tsv:2:"):
            renderer.encode(table)
        return
    f = renderer.encode(table)
    ids, flags = f.row(0)["ids"], np.array(f.row(0)["flags"])
    assert len(ids) <= max_length
    assert flags[f.row(0)["mask_rel"]] == MASK
    text = tokenizer.convert_ids_to_tokens(ids)
    assert text[-5:] == ["it", "was", "[MASK]", ".", "[SEP]"]
    assert ids[-5 - len(b_ids):-5] == b_ids                       # the keep field is whole

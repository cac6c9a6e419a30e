"""Per-label few-shot sampling and demonstrations."""
import pytest

import tiny
from promptdsl.data import Renderer, Table, sample_per_label
from promptdsl.data.demonstrations import add_demonstrations
from promptdsl.errors import DataError


def table(n_pos=30, n_neg=20):
    rows = [{"sentence": f"s{i}", "label": "1" if i < n_pos else "0"} for i in range(n_pos + n_neg)]
    return Table("d.tsv", ["sentence", "label"], rows, [i + 2 for i in range(len(rows))])


def test_counts_per_label_and_determinism():
    t = table()
    a = sample_per_label(t, "label", 4, seed=13)
    assert sorted(r["label"] for r in a.rows) == ["0"] * 4 + ["1"] * 4
    assert a.rows == sample_per_label(t, "label", 4, seed=13).rows
    assert a.rows != sample_per_label(t, "label", 4, seed=21).rows
    assert a.lines == [t.lines[int(r["sentence"][1:])] for r in a.rows]  # source lines kept


def test_too_few_rows_of_a_label():
    with pytest.raises(DataError, match="label '0'.*has 20"):
        sample_per_label(table(), "label", 21, seed=1)
    with pytest.raises(DataError, match="label 'x'"):
        sample_per_label(table(), "label", 1, seed=1, labels=["0", "x"])


def test_demonstrations_render_label_words_in_the_mask_place():
    tokenizer = tiny.build_tokenizer("roberta")
    pieces = tiny.pieces_from_text("{sentence} It was [MASK] .")
    pool = Table("train.tsv", ["sentence", "label"],
                 [{"sentence": "good movie", "label": "1"}, {"sentence": "bad film", "label": "0"}],
                 [2, 3])
    query = Table("dev.tsv", ["sentence", "label"], [{"sentence": "the movie", "label": "1"}], [2])
    picks = [[0, 1]]
    new_pieces, new_table = add_demonstrations(pieces, query, pool, picks,
                                               {"1": "great", "0": "terrible"}, "label")
    renderer = Renderer(tokenizer, new_pieces, "mlm", labels=["0", "1"], label_column="label")
    f = renderer.encode(new_table)
    text = tokenizer.decode(f.row(0)["ids"])
    first = "good movie It was great ." if picks[0][0] == 0 else "bad film It was terrible ."
    assert text.startswith("<s>" + first)
    assert text.endswith("the movie It was<mask> .</s>")
    assert f.labels.tolist() == [1]
    assert tokenizer.convert_ids_to_tokens([f.row(0)["ids"][f.row(0)["mask_rel"]]]) == ["<mask>"]



"""Rendering + tokenization: special tokens per family, the whitespace rule, soft / mask / field
flags, filters, truncation, labels."""
import numpy as np
import pytest

import tiny
from promptdsl.data import Renderer, Table, label_word_ids
from promptdsl.data.features import FIELD, MASK, SHORTENABLE, SOFT
from promptdsl.errors import DataError, ModelError

ROWS = [{"sentence": s, "label": l} for s, l in tiny.SST2_ROWS]
_TOKENIZERS = {}


def tok(name):
    if name not in _TOKENIZERS:
        _TOKENIZERS[name] = tiny.build_tokenizer(name)
    return _TOKENIZERS[name]


def render(name, template, rows=ROWS, max_length=None, **kw):
    renderer = Renderer(tok(name), tiny.pieces_from_text(template), tiny.FAMILY_OF[name],
                        max_length=max_length, labels=["0", "1"], label_column="label", **kw)
    return renderer, renderer.encode(rows)


def tokens_of(name, features, i=0):
    return tok(name).convert_ids_to_tokens(features.row(i)["ids"])


def test_bert_wraps_in_cls_sep_and_reads_the_mask():
    _, f = render("bert", "{sentence} It was [MASK] .")
    toks = tokens_of("bert", f)
    assert toks[0] == "[CLS]" and toks[-1] == "[SEP]"
    assert toks[f.row(0)["mask_rel"]] == "[MASK]"
    assert toks[-5:] == ["it", "was", "[MASK]", ".", "[SEP]"]


def test_roberta_special_pieces_map_to_its_own_tokens():
    _, f = render("roberta", "{sentence} [SEP] It was [MASK] . [CLS]")
    toks = tokens_of("roberta", f)
    assert toks[0] == "<s>" and toks[-1] == "</s>"
    assert "</s>" in toks[1:-1] and toks[-2] == "<s>"
    assert toks[f.row(0)["mask_rel"]] == "<mask>"


def test_whitespace_rule_label_word_after_was_is_the_spaced_token():
    renderer, f = render("gpt2", "{sentence} It was [MASK]")
    toks = tokens_of("gpt2", f)
    assert toks[-2:] == ["ĠIt", "Ġwas"]          # the space before "It" moved onto it
    assert renderer.mask_space is True
    [great] = label_word_ids(tok("gpt2"), ["great"], renderer.mask_space)
    assert great == tok("gpt2")(" great", add_special_tokens=False)["input_ids"]
    assert len(great) == 1                       # " great" is one token the model can predict
    assert f.row(0)["mask_rel"] == len(toks) - 1  # causal: read at the last real token


def test_no_space_before_mask_means_no_space_in_label_words():
    renderer, _ = render("gpt2", "{sentence} It was:[MASK]")
    assert renderer.mask_space is False
    [word] = label_word_ids(tok("gpt2"), ["great"], renderer.mask_space)
    assert word == tok("gpt2")("great", add_special_tokens=False)["input_ids"]


def test_line_breaks_in_a_template_are_kept_and_words_after_them_get_no_space():
    row = [{"sentence": "great fun", "label": "1"}]
    renderer, f = render("gpt2", "Review: {sentence}\nSentiment:\n[MASK]", rows=row)
    whole = tok("gpt2")("Review: great fun\nSentiment:\n", add_special_tokens=False)["input_ids"]
    assert [int(i) for i in f.ids[f.offsets[0]:f.offsets[0] + len(whole)]] == whole
    assert renderer.mask_space is False          # after a line break the word starts bare
    _, f = render("gpt2", "Q:\n{sentence} A: [MASK]", rows=row)
    assert "Ċ" in tokens_of("gpt2", f)           # the break before a field stays too


def test_first_field_gets_no_space_and_later_fields_do():
    _, f = render("roberta", "{sentence} {sentence}", rows=[{"sentence": "great", "label": "1"}])
    assert tokens_of("roberta", f) == ["<s>", "great", "Ġgreat", "</s>"]


def test_wordpiece_and_sentencepiece_get_no_extra_space_tokens():
    _, f = render("t5", "{sentence} It was [MASK] .", rows=[{"sentence": "great", "label": "1"}])
    toks = tokens_of("t5", f)
    pieces = lambda text: tok("t5").convert_ids_to_tokens(   # noqa: E731
        tok("t5")(text, add_special_tokens=False)["input_ids"])
    assert toks == pieces("great It was") + ["<extra_id_0>"] + pieces(".") + ["</s>"]


def test_llama_gets_bos_and_no_eos_for_causal():
    _, f = render("llama", "{sentence} It was [MASK]")
    toks = tokens_of("llama", f)
    assert toks[0] == "<s>" and toks[-1] == "Ġwas"


def test_t5_sentinel_in_encoder_and_decoder_prefix():
    renderer, f = render("t5", "{sentence} It was [MASK] .")
    sentinel = tok("t5").convert_tokens_to_ids("<extra_id_0>")
    assert f.ids[f.offsets[0] + f.mask_rel[0]] == sentinel
    assert f.decoder_input_ids == [tok("t5").pad_token_id, sentinel]
    renderer, _ = render("t5", "{sentence} [MASK]", decoder_start_token_id=7)
    assert renderer.decoder_input_ids[0] == 7


def test_soft_tokens_and_flags():
    renderer, f = render("bert", "<soft*2> {sentence|keep} <soft 'it was'> [MASK]")
    row = f.row(0)
    soft = [s for s in row["soft"] if s >= 0]
    assert soft == [0, 1, 2, 3] and renderer.n_soft == 4
    ids, flags = np.array(row["ids"]), np.array(row["flags"])
    assert (ids[flags & SOFT > 0] == tok("bert").pad_token_id).all()
    assert not (flags & SHORTENABLE).any()          # the only field is keep
    assert flags[row["mask_rel"]] == MASK


def test_soft_piece_with_explicit_first_index():
    pieces = [{"type": "soft", "count": 2, "init": None, "first": 5}] + \
        tiny.pieces_from_text("{sentence} [MASK]")
    f = Renderer(tok("bert"), pieces, "mlm").encode(ROWS[:1])
    assert [s for s in f.row(0)["soft"] if s >= 0] == [5, 6]


def test_filters_apply_in_order():
    rows = [{"sentence": "hello world !!", "label": "0"}]
    _, f = render("roberta", "{sentence|nopunct|upper}", rows=rows)
    text = tok("roberta").decode(f.row(0)["ids"], skip_special_tokens=True)
    assert text == "HELLO WORLD"
    _, f = render("roberta", "{sentence|capitalize}",
                  rows=[{"sentence": "hello World", "label": "0"}])
    assert tok("roberta").decode(f.row(0)["ids"], skip_special_tokens=True) == "Hello World"


def test_truncation_cuts_longest_shortenable_first_never_keep_or_mask():
    rows = [{"a": "the a an and of to in " * 3, "b": "great terrible good bad", "label": "1"}]
    template = "{a} {b} It was [MASK] ."
    _, full = render("bert", template, rows=rows)
    full_len = len(full.row(0)["ids"])
    renderer, f = render("bert", template, rows=rows, max_length=full_len - 6)
    row = f.row(0)
    assert len(row["ids"]) == full_len - 6
    flags = np.array(row["flags"])
    assert flags[row["mask_rel"]] == MASK
    toks = tokens_of("bert", f)
    assert toks[-5:] == ["it", "was", "[MASK]", ".", "[SEP]"]
    # the longer field a lost 6 tokens from its end; b is intact
    a_full = tok("bert")(rows[0]["a"].strip(), add_special_tokens=False)["input_ids"]
    assert row["ids"][1:1 + len(a_full) - 6] == a_full[:-6]
    assert tokens_of("bert", f)[1 + len(a_full) - 6:][:4] == ["great", "terrible", "good", "bad"]


def test_truncation_evens_out_two_long_fields_and_spares_keep():
    rows = [{"a": "good " * 10, "b": "bad " * 10, "c": "great " * 10, "label": "1"}]
    template = "{a} {b} {c|keep} [MASK]"
    _, full = render("bert", template, rows=rows)
    _, f = render("bert", template, rows=rows, max_length=len(full.row(0)["ids"]) - 8)
    toks = tokens_of("bert", f)
    assert toks.count("good") == 6 and toks.count("bad") == 6 and toks.count("great") == 10


def test_row_that_cannot_fit_names_file_and_line(tmp_path):
    table = Table(str(tmp_path / "d.tsv"), ["sentence", "label"],
                  [{"sentence": "good", "label": "1"}, {"sentence": "great " * 40, "label": "0"}],
                  [2, 7])
    with pytest.raises(DataError) as info:
        render("bert", "{sentence|keep} It was [MASK] .", rows=table, max_length=20)
    assert info.value.line == 7 and info.value.file == str(tmp_path / "d.tsv")
    assert "max_length is 20" in str(info.value)


def test_unknown_label_names_file_and_line(tmp_path):
    table = Table("x.tsv", ["sentence", "label"],
                  [{"sentence": "good", "label": "1"}, {"sentence": "bad", "label": "neg"}], [2, 3])
    with pytest.raises(DataError) as info:
        render("bert", "{sentence} [MASK]", rows=table)
    assert info.value.line == 3 and "'neg'" in str(info.value) and "'0'" in str(info.value)


def test_labels_optional_unless_required():
    renderer, f = render("bert", "{sentence} [MASK]", rows=[{"sentence": "good"}])
    assert f.labels is None
    with pytest.raises(DataError, match="label column"):
        renderer.encode([{"sentence": "good"}], require_labels=True)


def test_missing_field_column_suggests():
    table = Table("x.tsv", ["sentense", "label"], [{"sentense": "good", "label": "1"}], [2])
    with pytest.raises(DataError, match="did you mean 'sentense'"):
        render("bert", "{sentence} [MASK]", rows=table)


def test_plain_texts_for_a_one_field_template():
    renderer, f = render("bert", "{sentence} It was [MASK] .", rows=["good", "bad"])
    assert len(f) == 2 and f.labels is None
    with pytest.raises(DataError, match="one field"):
        render("bert", "{a} {b} [MASK]", rows=["good"])


def test_causal_mask_must_be_last():
    with pytest.raises(ModelError, match="last"):
        render("gpt2", "[MASK] {sentence}")


def test_one_tokenizer_call_per_field_not_per_row():
    from test_data_cache import Counting
    counting = Counting(tok("roberta"))
    renderer = Renderer(counting, tiny.pieces_from_text("{sentence} It [MASK] {sentence|upper}"),
                        "mlm")
    before = counting.calls
    renderer.encode(ROWS * 20)
    assert counting.calls - before == 2
    assert [len(t) for t in counting.texts[-2:]] == [len(ROWS) * 20] * 2


def test_a_template_that_writes_the_frame_does_not_get_it_twice():
    _, f = render("bert", "[CLS] {sentence} [MASK] [SEP]", rows=[{"sentence": "good"}])
    assert tokens_of("bert", f) == ["[CLS]", "good", "[MASK]", "[SEP]"]
    _, f = render("roberta", "{sentence} [SEP] [MASK]", rows=[{"sentence": "good"}])
    toks = tokens_of("roberta", f)
    assert toks[0] == "<s>" and toks[-3:] == ["</s>", "<mask>", "</s>"] and toks.count("<s>") == 1


def test_zero_rows_render_and_collate():
    from promptdsl.data import collate
    _, f = render("bert", "{sentence} [MASK]", rows=Table("x.tsv", ["sentence", "label"], [], []))
    assert len(f) == 0 and f.labels.tolist() == []
    assert collate(f, [])["input_ids"].shape == (0, 0)


def test_an_empty_field_adds_no_tokens_not_even_a_space():
    _, f = render("gpt2", "Review: {sentence} It was [MASK]", rows=[{"sentence": "  "}])
    assert tokens_of("gpt2", f)[-2:] == ["ĠIt", "Ġwas"]
    assert not (np.array(f.row(0)["flags"]) & FIELD).any()


def test_label_with_stray_spaces_still_matches():
    table = Table("x.tsv", ["sentence", "label"], [{"sentence": "good", "label": " 1 "}], [2])
    _, f = render("bert", "{sentence} [MASK]", rows=table)
    assert f.labels.tolist() == [1]

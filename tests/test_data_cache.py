"""The tokenization cache: a second encode of the same file does not call the tokenizer."""
import pytest

import tiny
from promptdsl.data import encode, encode_split, read_table


class Counting:
    """Wraps a fast tokenizer and counts the calls that tokenize text, whether through
    `__call__` or straight through its Rust backend."""

    def __init__(self, inner):
        self.inner, self.calls, self.texts = inner, 0, []
        self.backend_tokenizer = _CountingBackend(self, inner.backend_tokenizer)

    def __call__(self, texts, *args, **kwargs):
        self.calls += 1
        self.texts.append(texts)
        return self.inner(texts, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _CountingBackend:
    def __init__(self, owner, inner):
        self.owner, self.inner = owner, inner

    def _counted(self, method):
        def call(texts, *args, **kwargs):
            self.owner.calls += 1
            self.owner.texts.append(texts)
            return method(texts, *args, **kwargs)
        return call

    def __getattr__(self, name):
        value = getattr(self.inner, name)
        return self._counted(value) if name.startswith("encode") else value


class FakeModel:
    def __init__(self, tokenizer, template="{sentence} It was [MASK] .", max_length=64):
        self.tokenizer, self.family = tokenizer, "mlm"
        self.labels = ["0", "1"]
        self.task = {"template": {"pieces": tiny.pieces_from_text(template)},
                     "train": {"max_length": max_length}, "data": {"label": "label"},
                     "verbalizer": {"mask": None}}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTDSL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PROMPTDSL_NO_CACHE", raising=False)
    return tmp_path / "cache"


def field_calls(model, run):
    """Tokenizer calls made by `run()` beyond building the renderer."""
    from promptdsl.data import renderer_for
    renderer_for(model)
    before = model.tokenizer.calls
    result = run()
    return model.tokenizer.calls - before, result


def test_second_encode_split_hits_the_cache(cache_dir, sst2_tsv):
    tokenizer = Counting(tiny.build_tokenizer("bert"))
    model = FakeModel(tokenizer)
    calls, first = field_calls(model, lambda: encode_split(model, sst2_tsv))
    assert calls >= 1
    assert list((cache_dir / "tokenized").glob("*.safetensors"))
    model2 = FakeModel(tokenizer)  # a new run: new model object, same everything
    calls, second = field_calls(model2, lambda: encode_split(model2, sst2_tsv))
    assert calls == 0
    assert (second.ids == first.ids).all() and (second.labels == first.labels).all()
    assert second.mask_space == first.mask_space and second.path == first.path


def test_cache_key_changes_with_template_max_length_data_and_shots(cache_dir, sst2_tsv, write_tsv):
    tokenizer = Counting(tiny.build_tokenizer("bert"))
    encode_split(FakeModel(tokenizer), sst2_tsv)
    for model, path, shots in [
            (FakeModel(tokenizer, template="{sentence} It is [MASK] ."), sst2_tsv, None),
            (FakeModel(tokenizer, max_length=8), sst2_tsv, None),
            (FakeModel(tokenizer), sst2_tsv, 2)]:
        calls, _ = field_calls(model, lambda: encode_split(model, path, shots=shots))
        assert calls >= 1
    changed = write_tsv(tiny.SST2_ROWS[:5], name="sst2.tsv")  # same path, other bytes
    model = FakeModel(tokenizer)
    calls, features = field_calls(model, lambda: encode_split(model, changed))
    assert calls >= 1 and len(features) == 5


def test_encode_of_a_table_is_cached_and_in_memory_rows_are_not(cache_dir, sst2_tsv):
    tokenizer = Counting(tiny.build_tokenizer("roberta"))
    model = FakeModel(tokenizer)
    table = read_table(sst2_tsv)
    encode(model, table)
    calls, _ = field_calls(model, lambda: encode(model, read_table(sst2_tsv)))
    assert calls == 0
    calls, _ = field_calls(model, lambda: encode(model, table.rows))
    assert calls >= 1


def test_no_cache_switch(cache_dir, sst2_tsv, monkeypatch):
    monkeypatch.setenv("PROMPTDSL_NO_CACHE", "1")
    tokenizer = Counting(tiny.build_tokenizer("bert"))
    encode_split(FakeModel(tokenizer), sst2_tsv)
    model = FakeModel(tokenizer)
    calls, _ = field_calls(model, lambda: encode_split(model, sst2_tsv))
    assert calls >= 1 and not (cache_dir / "tokenized").exists()


def test_a_table_edited_in_memory_is_not_served_from_the_cache(cache_dir, sst2_tsv):
    model = FakeModel(Counting(tiny.build_tokenizer("bert")))
    table = read_table(sst2_tsv)
    first = encode(model, table)
    table.rows[0]["sentence"] = "great great great"
    second = encode(model, table)
    assert second.row(0)["ids"] != first.row(0)["ids"]
    without = read_table(sst2_tsv)
    without.columns.remove("label")
    for row in without.rows:
        del row["label"]
    assert encode(model, without).labels is None


def test_another_template_over_the_same_column_reuses_its_tokens(cache_dir, sst2_tsv,
                                                                  monkeypatch):
    from promptdsl.data import cache, renderer_for
    monkeypatch.setattr(cache, "FIELD_MIN_ROWS", 1)
    tokenizer = Counting(tiny.build_tokenizer("roberta"))
    encode(FakeModel(tokenizer, template="{sentence} It was [MASK] ."), read_table(sst2_tsv))
    other = FakeModel(tokenizer, template="{sentence} Sentiment: [MASK]")
    calls, features = field_calls(other, lambda: encode(other, read_table(sst2_tsv)))
    assert calls == 0
    fresh = renderer_for(other).encode(read_table(sst2_tsv))
    assert (features.ids == fresh.ids).all() and (features.offsets == fresh.offsets).all()


def test_encode_split_errors_name_the_file(cache_dir, tmp_path, write_tsv):
    from promptdsl.errors import DataError
    model = FakeModel(tiny.build_tokenizer("bert"))
    with pytest.raises(DataError, match="does not exist"):
        encode_split(model, tmp_path / "missing.tsv")
    header_only = write_tsv([], name="empty.tsv")
    with pytest.raises(DataError, match="no rows") as info:
        encode_split(model, header_only, purpose="data.train")
    assert info.value.line == 1 and "data.train" in str(info.value)
    few = write_tsv(tiny.SST2_ROWS, name="few.tsv")
    with pytest.raises(DataError, match="shots: 5"):
        encode_split(model, few, shots=5)
    assert len(encode_split(model, few, shots=2)) == 4


def test_a_change_to_the_rendering_code_is_never_served_from_an_old_cache(cache_dir, sst2_tsv,
                                                                         monkeypatch):
    from promptdsl.data import cache
    tokenizer = Counting(tiny.build_tokenizer("bert"))
    encode_split(FakeModel(tokenizer), sst2_tsv)
    monkeypatch.setattr(cache, "_code_print", lambda: "another-version-of-render.py")
    model = FakeModel(tokenizer)
    calls, _ = field_calls(model, lambda: encode_split(model, sst2_tsv))
    assert calls >= 1

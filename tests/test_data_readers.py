"""Data-format readers: good files read right; every kind of bad file gives DataError with the
file and the line."""
import pytest

from promptdsl.data import read_header, read_table
from promptdsl.errors import DataError


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def error_of(path) -> DataError:
    with pytest.raises(DataError) as info:
        read_table(path)
    return info.value


def test_tsv_reads_rows_lines_and_keeps_quotes(tmp_path):
    path = write(tmp_path, "a.tsv", 'sentence\tlabel\nit \'s "fine" \t1\n\nbad\t0\n')
    table = read_table(path)
    assert table.columns == ["sentence", "label"]
    assert table.rows == [{"sentence": 'it \'s "fine" ', "label": "1"},
                          {"sentence": "bad", "label": "0"}]
    assert table.lines == [2, 4]
    assert read_header(path) == ["sentence", "label"]


def test_csv_quoted_fields_and_multiline_records(tmp_path):
    path = write(tmp_path, "a.csv", 'text,label\n"a, b",1\n"two\nlines",0\nplain,1\n')
    table = read_table(path)
    assert [r["text"] for r in table.rows] == ["a, b", "two\nlines", "plain"]
    assert table.lines == [2, 3, 5]


def test_jsonl_values_become_strings(tmp_path):
    path = write(tmp_path, "a.jsonl",
                 '{"text": "hi", "label": 1}\n\n{"text": null, "label": true, "x": 2}\n')
    table = read_table(path)
    assert table.columns == ["text", "label"]
    assert table.rows == [{"text": "hi", "label": "1"}, {"text": "", "label": "true"}]
    assert table.lines == [1, 3]
    assert read_header(path) == ["text", "label"]


def test_header_only_is_zero_rows_but_not_usable_for_training(tmp_path):
    table = read_table(write(tmp_path, "h.tsv", "sentence\tlabel\n"))
    assert len(table) == 0
    with pytest.raises(DataError, match="no rows") as info:
        table.require_rows("training")
    assert info.value.line == 1


@pytest.mark.parametrize("name,content,line,words", [
    ("empty.tsv", "", 1, "empty"),
    ("blank.csv", "\n\n", 1, "empty"),
    ("ragged.tsv", "a\tb\n1\t2\n1\t2\t3\n", 3, "3 fields but the header has 2"),
    ("short.tsv", "a\tb\n1\t2\nonly\n", 3, "1 field but the header has 2"),
    ("ragged.csv", "a,b\n1,2\n3\n", 3, "1 field but the header has 2"),
    ("bad.csv", 'a,b\n1,2\n"x"y,2\n', 3, "malformed CSV"),
    ("dup.tsv", "a\ta\n1\t2\n", 1, "twice"),
    ("bad.jsonl", '{"a": 1}\n{"a": 2,}\n', 2, "malformed JSON"),
    ("list.jsonl", '{"a": 1}\n[1, 2]\n', 2, "JSON object"),
    ("lacks.jsonl", '{"a": 1, "b": 2}\n{"a": 2}\n', 2, "'b'"),
    ("bytes.tsv", b"a\tb\n1\t2\nca\xfe\t1\n", 3, "not UTF-8"),
    ("bytes.jsonl", b'{"a": "x"}\n{"a": "\xff"}\n', 2, "not UTF-8"),
])
def test_bad_files_name_file_and_line(tmp_path, name, content, line, words):
    path = write(tmp_path, name, content)
    err = error_of(path)
    assert err.file == str(path) and err.line == line
    assert words in str(err) and str(path) in str(err)


def test_missing_file_and_unknown_extension(tmp_path):
    err = error_of(tmp_path / "nope.tsv")
    assert "does not exist" in str(err) and err.file == str(tmp_path / "nope.tsv")
    err = error_of(write(tmp_path, "x.parquet", "a"))
    assert ".tsv" in str(err)
    with pytest.raises(DataError, match="does not exist"):
        read_header(tmp_path / "nope.csv")


def test_read_header_reads_only_the_first_record(tmp_path):
    # a broken row further down does not matter to read_header
    path = write(tmp_path, "a.tsv", b"sentence\tlabel\n\xff\xfe\n")
    assert read_header(path) == ["sentence", "label"]
    with pytest.raises(DataError, match="empty"):
        read_header(write(tmp_path, "e.jsonl", ""))


def test_missing_column_suggests_and_lists(tmp_path):
    table = read_table(write(tmp_path, "a.tsv", "sentence\tlabel\nx\t1\n"))
    with pytest.raises(DataError) as info:
        table.column("sentense")
    message = str(info.value)
    assert "did you mean 'sentence'" in message and "'label'" in message
    assert info.value.line == 1


def test_bom_is_dropped(tmp_path):
    table = read_table(write(tmp_path, "a.csv", "\ufefftext,label\nx,1\n".encode()))
    assert table.columns == ["text", "label"]

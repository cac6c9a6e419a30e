"""`promptc check` reports what `promptc train` would reject, read through train's own reader:
ragged and empty files, labels without words, too few rows for `shots` — located at the data
path, naming the data file's line. Also: `null`, the method composition rule, a target beside
a verbalizer, and the one list of template filters."""
import pytest

from promptdsl.api import check, load

from tiny import FRONTEND_DATA as GOOD, frontend_project


@pytest.fixture
def project(tmp_path):
    frontend_project(tmp_path)

    def write(text, name="t.prompt", **files):
        for file, content in files.items():
            (tmp_path / f"{file}.tsv").write_text(content)
        (tmp_path / name).write_text(text)
        return str(tmp_path / name)
    return write


def task(data='test: "d.tsv"', methods="method zero_shot { }", more=""):
    return (f'task t {{\n  model: "./mlm"\n  data {{ {data} }}\n'
            f'  template: "{{sentence}} It was [MASK]."\n'
            f'  verbalizer {{ "0": "bad"  "1": "good" }}\n  {methods}\n{more}}}\n')


def errors(path):
    return [(d.code, d.line, d.column, d.message) for d in check([path]) if d.is_error]


def test_a_ragged_row_is_located_at_the_data_path_naming_its_line(project):
    path = project(task(data='test: "bad.tsv"'), bad=GOOD + "extra\t1\tfield\n")
    (code, line, column, message), = errors(path)
    assert (code, line, column) == ("bad-data", 3, 16)
    assert message.startswith("bad.tsv:4: this row has 3 fields")


def test_an_invalid_data_block_is_its_own_located_error_not_an_internal_one(project):
    # found by the long fuzz: a tagged value where the label column goes crashed the data check
    path = project(task(data='test: "d.tsv"  label: labe 32'))
    found = errors(path)
    assert [(code, line) for code, line, _, _ in found] == [("invalid-value", 3)]
    assert "`data.label` must be a string" in found[0][3]


def test_a_file_with_a_header_only_is_an_error(project):
    path = project(task(data='train: "d.tsv", test: "empty.tsv"',
                        methods="method finetune { }"), empty="sentence\tlabel\n")
    (code, line, column, message), = errors(path)
    assert (code, line, column) == ("bad-data", 3, 32)
    assert "empty.tsv:1:" in message and "no rows" in message and "data.test" in message


def test_a_label_without_words_is_bad_data_at_its_first_row(project):
    path = project(task(data='test: "three.tsv"'), three=GOOD + "so so\t2\nmeh\t2\n")
    (code, line, column, message), = errors(path)
    assert (code, line, column) == ("bad-data", 3, 16)
    assert message.startswith("three.tsv:4: label '2' is not one the verbalizer knows")
    assert "without label words" not in message          # one such value: no list


def test_every_label_value_without_words_is_listed(project):
    path = project(task(data='test: "more.tsv"'), more=GOOD + "x\t\nso so\t2\nodd\t7\n")
    (code, line, column, message), = errors(path)
    assert (code, line, column) == ("bad-data", 3, 16)
    assert message.startswith("more.tsv:4: the label column 'label' is empty in this row")
    assert message.endswith("labels of more.tsv without label words: 2, 7")


def test_a_verbalizer_label_no_data_file_has_is_the_files_mistake(project):
    """Checked against all labelled files together: a test file may lack a class the train
    file has. A verbalizer label that no file has is reported once, at that label."""
    only_ones = "sentence\tlabel\ngood film\t1\n"
    text = task(data='train: "d.tsv", test: "ones.tsv"', methods="method finetune { }")
    assert errors(project(text, ones=only_ones)) == []
    text = task(data='train: "ones.tsv", test: "ones.tsv"', methods="method finetune { }")
    (code, line, column, message), = errors(project(text, ones=only_ones))
    assert (code, line, column) == ("label-mismatch", 5, 16)
    assert "verbalizer labels {0, 1} do not match the labels of ones.tsv {1}" in message


def test_a_label_written_with_spaces_is_accepted_as_train_accepts_it(project):
    assert errors(project(task(data='test: "sp.tsv"'), sp=GOOD + "fine\t 1\n")) == []


def test_too_few_rows_for_shots(project):
    path = project(task(data='train: "d.tsv", test: "d.tsv", shots: 2',
                        methods="method finetune { }"))
    (code, line, column, message), = errors(path)
    assert (code, line, column) == ("bad-data", 3, 17)           # at the train file's path
    assert message.startswith("d.tsv: shots: 2 asks for 2 rows of label '0', but the file has 1")


def test_null_unsets_an_inherited_field(project):
    parent = task(data='test: "d.tsv", validation: "d.tsv", shots: 1',
                  more="  train { epochs: 5 }\n")
    child = ("task c extends t {\n  data {\n    validation: null\n    shots: null\n  }\n"
             "  train { epochs: null }\n}\n")
    ir = load(project(parent + child), task="c")
    assert ir["data"]["validation"] is None and ir["data"]["shots"] is None
    assert ir["train"]["epochs"] == 3                    # null where null is no value: default
    assert load(project(parent), task="t")["data"]["validation"] is not None
    assert [c for c, *_ in errors(project(task(more="  train { epoch: null }\n")))] == \
        ["unknown-field"]                                # a misspelt key is still found


def test_an_evaluate_only_method_stands_alone(project):
    path = project(task(data='train: "d.tsv", test: "d.tsv"',
                        methods="method zero_shot { }\n  method lora { }"))
    (code, line, column, message), = errors(path)
    assert (code, line, column) == ("method-composition", 7, 10)
    assert "`zero_shot` evaluates only" in message and "`lora`" in message


def test_a_target_beside_a_verbalizer_is_refused_at_the_verbalizer(project):
    text = task().replace('  verbalizer', '  target: "{sentence}"\n  verbalizer')
    codes = [(c, line) for c, line, *_ in errors(project(text))]
    assert ("target-and-verbalizer", 6) in codes


def test_one_list_of_template_filters():
    from promptdsl.data.filters import FILTERS
    from promptdsl.ir.schema import PIECE
    from promptdsl.syntax.template import FILTERS as NAMES
    field = next(p for p in PIECE["oneOf"] if p["properties"]["type"] == {"const": "field"})
    assert list(NAMES) == list(FILTERS) == field["properties"]["filters"]["items"]["enum"]


def test_each_data_file_is_read_once_per_check(project, monkeypatch):
    import dataclasses

    from promptdsl.registry import get_registry
    registry = get_registry()
    spec = registry.format_for("x.tsv")
    reads = []

    def counting(path):
        reads.append(path)
        return spec.read(path)
    monkeypatch.setitem(registry.data_formats, spec.name, dataclasses.replace(spec, read=counting))
    text = task(data='train: "d.tsv", test: "d.tsv"', methods="method finetune { }")
    path = project(text + "task u extends t { }\n")
    assert errors(path) == [] and len(reads) == 1

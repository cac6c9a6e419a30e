"""Bad data, bad model folders and corrupted checkpoints, through `promptc` itself: each is
refused with exit status 2, a message that names the file (and the line, for a data row), no
traceback or "internal error", and nothing left behind (no run directory, no output file)."""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

import tiny
from promptdsl.cli import main

ROWS = [("a great movie", "1"), ("a terrible movie", "0"), ("great , really great", "1"),
        ("terrible , just terrible", "0")]

PROMPT = """
task tiny {{
  model: "{model}"
  data {{
{data}
    label: label
  }}
  template: "{template}"
  verbalizer {verbalizer}
  method {method} {{ }}
  train {{
    batch_size: 4
    max_steps: 1
    device: cpu
{train}
  }}
}}
"""
DATA = '    train: "train.tsv"\n    test: "test.tsv"'
VERBALIZER = '{ "0": "terrible"  "1": "great" }'


def write_prompt(folder: Path, model, *, data=DATA, template="{sentence} It was [MASK] .",
                 verbalizer=VERBALIZER, method="prompt_tuning", train="") -> Path:
    path = folder / "tiny.prompt"
    path.write_text(PROMPT.format(model=model, data=data, template=template,
                                  verbalizer=verbalizer, method=method, train=train),
                    encoding="utf-8")
    return path


def promptc(*args, stdin: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


def files_under(folder: Path) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def assert_refused(result, *fragments):
    """Exit 2 with one clean message holding every fragment (a file name, a line, a reason)."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output and "internal error" not in output, output
    for fragment in fragments:
        assert str(fragment) in output, (fragment, output)


@pytest.fixture
def project(tmp_path, tiny_model_dir, write_tsv):
    """A folder with train.tsv, test.tsv and tiny.prompt (prompt tuning over tiny BERT)."""
    write_tsv(ROWS, name="train.tsv")
    write_tsv(ROWS, name="test.tsv")
    write_prompt(tmp_path, tiny_model_dir("bert"))
    return tmp_path


def train_refused(project: Path, *fragments):
    """`promptc train` refuses the project and writes nothing into it."""
    before = files_under(project)
    result = promptc("train", project / "tiny.prompt", "--out", project / "run")
    assert_refused(result, *fragments)
    assert files_under(project) == before, "the refused run left files behind"
    return result


# ------------------------------------------------------------------ bad data files

def _test_tsv(name: str, content, *expected):
    """A case that writes test.tsv (`content`: text as UTF-8, or bytes) and expects
    `expected` fragments in the refusal."""
    def spoil(p):
        data = content.encode("utf-8") if isinstance(content, str) else content
        (p / "test.tsv").write_bytes(data)
        return expected
    spoil.__name__ = name
    return spoil


_header_only = _test_tsv("_header_only", "sentence\tlabel\n", "test.tsv:1", "no rows")
_empty = _test_tsv("_empty", b"", "test.tsv", "empty")
_blank = _test_tsv("_blank", "\n \n\t\n", "test.tsv", "empty")
_binary = _test_tsv("_binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" * 8,
                    "test.tsv:1", "not UTF-8")
_latin1_row = _test_tsv("_latin1_row", "sentence\tlabel\nfine\t1\ncaf\xe9\t0\n".encode("latin-1"),
                        "test.tsv:3", "not UTF-8")
_duplicate_columns = _test_tsv("_duplicate_columns", "sentence\tlabel\tlabel\na\t1\t1\n",
                               "test.tsv:1", "twice")
_unnamed_column = _test_tsv("_unnamed_column", "sentence\t\tlabel\na\tx\t1\n",
                            "test.tsv:1", "no name")
_empty_label = _test_tsv("_empty_label", "sentence\tlabel\na great movie\t1\nno label here\t\n",
                         "test.tsv:3", "label column 'label' is empty")
_unknown_label = _test_tsv("_unknown_label", "sentence\tlabel\na great movie\t1\nodd\t7\n",
                           "test.tsv:3", "label '7' is not one the verbalizer knows")
_ragged = _test_tsv("_ragged", "sentence\tlabel\na great movie\t1\ttoo many\n",
                    "test.tsv:2", "3 fields")
_missing_field = _test_tsv("_missing_field", "text\tlabel\na great movie\t1\n",
                           "test.tsv", "sentence")

def _folder(p):
    (p / "test.tsv").unlink()
    (p / "test.tsv").mkdir()
    return "test.tsv", "folder"


def _fifo(p):
    """A FIFO: a reader that opened it would wait for a writer that never comes."""
    (p / "test.tsv").unlink()
    os.mkfifo(p / "test.tsv")
    return "test.tsv", "not a regular file"


def _unknown_extension(p):
    (p / "test.xlsx").write_bytes(b"PK\x03\x04")
    write_prompt(p, _model_of(p), data='    train: "train.tsv"\n    test: "test.xlsx"')
    return "test.xlsx", "no data format"


def _jsonl(p, text: str):
    (p / "test.jsonl").write_text(text, encoding="utf-8")
    write_prompt(p, _model_of(p), data='    train: "train.tsv"\n    test: "test.jsonl"')


def _model_of(p) -> str:
    line = next(l for l in (p / "tiny.prompt").read_text().splitlines() if "model:" in l)
    return json.loads(line.split("model:", 1)[1])


def _jsonl_not_object(p):
    _jsonl(p, '{"sentence": "a great movie", "label": "1"}\n["a list", "0"]\n')
    return "test.jsonl:2", "JSON object"


def _jsonl_malformed(p):
    _jsonl(p, '{"sentence": "a great movie", "label": "1"}\n{"sentence": "cut\n')
    return "test.jsonl:2", "malformed JSON"


def _jsonl_missing_key(p):
    _jsonl(p, '{"sentence": "a great movie", "label": "1"}\n{"sentence": "no label"}\n')
    return "test.jsonl:2", "'label'"


def _csv_unclosed_quote(p):
    (p / "test.csv").write_text('sentence,label\n"a great movie,1\n', encoding="utf-8")
    write_prompt(p, _model_of(p), data='    train: "train.tsv"\n    test: "test.csv"')
    return "test.csv", "CSV"


def _too_few_for_shots(p):
    (p / "train.tsv").write_text("sentence\tlabel\na great movie\t1\n", encoding="utf-8")
    write_prompt(p, _model_of(p), data=DATA + "\n    shots: 4")
    return "train.tsv", "shots: 4 asks for 4 rows of label '0', but the file has 0"


def _fewer_rows_than_shots(p):
    (p / "train.tsv").write_text("sentence\tlabel\na great movie\t1\na dull one\t0\n",
                                 encoding="utf-8")
    write_prompt(p, _model_of(p), data=DATA + "\n    shots: 4")
    return "train.tsv", "shots: 4"


def _missing_file(p):
    (p / "test.tsv").unlink()
    return "test.tsv"


# exit 2: the data cannot be used as it is (docs/reliability.md, "Bad input")
BAD_DATA = [_header_only, _empty, _blank, _binary, _latin1_row, _duplicate_columns,
            _unnamed_column, _ragged, _jsonl_not_object, _jsonl_malformed, _jsonl_missing_key,
            _csv_unclosed_quote, _fewer_rows_than_shots]
# exit 1: the .prompt file names something that is not there (a file, a column, a format)
FILE_MISTAKES = [_missing_file, _missing_field, _unknown_extension]
# data problems that `promptc check` finds before train reads a row (bad-data, exit 2)
DATA_IN_CHECK = [_folder, _fifo, _empty_label, _unknown_label, _too_few_for_shots]


@pytest.mark.parametrize("spoil", BAD_DATA, ids=lambda f: f.__name__.strip("_"))
def test_bad_data_is_refused(project, spoil):
    train_refused(project, *spoil(project))


@pytest.mark.parametrize("spoil", FILE_MISTAKES, ids=lambda f: f.__name__.strip("_"))
def test_a_file_naming_what_is_not_there_is_refused(project, spoil):
    fragments = spoil(project)
    before = files_under(project)
    result = promptc("train", project / "tiny.prompt", "--out", project / "run")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and fragments[0] in result.output
    assert files_under(project) == before


@pytest.mark.parametrize("spoil", DATA_IN_CHECK, ids=lambda f: f.__name__.strip("_"))
def test_data_problems_check_reports_as_bad_data(project, spoil):
    fragments = spoil(project)
    # a reader that opened a FIFO would block until a writer comes: let one come, late
    fifo = project / "test.tsv"
    writer = threading.Timer(10, lambda: open(fifo, "w").close()) if fifo.is_fifo() else None
    if writer:
        writer.start()
    try:
        check = promptc("check", project / "tiny.prompt")
        assert_refused(check, "error[bad-data]", *fragments)
        assert "does not exist" not in check.output
        data_line = "test.tsv" if "test.tsv" in fragments[0] else "train.tsv"
        assert f"tiny.prompt:{_line_of(project, data_line)}:" in check.output   # where it is named
        train_refused(project, *fragments)
    finally:
        if writer:
            writer.cancel()


def _line_of(project: Path, text: str) -> int:
    lines = (project / "tiny.prompt").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def test_mixed_line_endings_read_as_lines(tmp_path):
    """\\n, \\r\\n and a lone \\r all end a line; each row keeps its own line number."""
    from promptdsl.data import read_table
    path = tmp_path / "mixed.tsv"
    path.write_bytes(b"sentence\tlabel\r\na great movie\t1\nbad\t0\rworse\t0\r\n")
    table = read_table(path)
    assert [r["sentence"] for r in table.rows] == ["a great movie", "bad", "worse"]
    assert [r["label"] for r in table.rows] == ["1", "0", "0"]
    assert table.lines == [2, 3, 4]


def test_verbalizer_label_without_words_is_refused(project):
    """The file's own mistake: exit 1, at the empty list, before any model is loaded."""
    write_prompt(project, _model_of(project), verbalizer='{ "0": []  "1": "great" }')
    line = _line_of(project, "verbalizer")
    column = (project / "tiny.prompt").read_text().splitlines()[line - 1].index("[]") + 1
    for command in ("check", "train"):
        before = files_under(project)
        result = promptc(command, project / "tiny.prompt",
                         *(["--out", project / "run"] if command == "train" else []))
        assert result.exit_code == 1, result.output
        assert "error[no-label-words]: label '0' has no label words" in result.output
        assert f"tiny.prompt:{line}:{column}" in result.output and "Traceback" not in result.output
        assert files_under(project) == before


def test_empty_kpt_word_list_is_refused(project):
    (project / "words.txt").write_text("\n\n", encoding="utf-8")
    write_prompt(project, _model_of(project), method="zero_shot",
                 verbalizer='knowledgeable { "0": "terrible"  "1": "great"  expand: "words.txt" }')
    train_refused(project, "words.txt", "0 non-empty lines")


def test_max_length_beyond_the_model_is_refused(project):
    write_prompt(project, _model_of(project), train="    max_length: 512")
    train_refused(project, "max_length is 512", "at most 128 tokens")


# ------------------------------------------------------------------ bad model folders

def _copy_model(source: Path, target: Path, skip=()) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*skip))
    return target


def _no_tokenizer(bert, folder):
    _copy_model(bert, folder, skip=("tokenizer*", "vocab*", "special_tokens*"))
    return "no tokenizer files"


def _config_not_json(bert, folder):
    _copy_model(bert, folder)
    (folder / "config.json").write_text('{"model_type": "bert",', encoding="utf-8")
    return "config.json", "not valid JSON"


def _config_a_list(bert, folder):
    _copy_model(bert, folder)
    (folder / "config.json").write_text('["bert"]', encoding="utf-8")
    return "config.json", "not a JSON object"


def _no_weights(bert, folder):
    _copy_model(bert, folder, skip=("*.safetensors",))
    return "cannot load it"


def _bare_encoder(bert, folder):
    """A `BertModel` folder: the encoder without the masked-LM head."""
    from transformers import AutoTokenizer, BertForMaskedLM
    BertForMaskedLM.from_pretrained(bert).bert.save_pretrained(folder)
    AutoTokenizer.from_pretrained(bert).save_pretrained(folder)
    return "BertModel", "no language-model head"


def _classifier(bert, folder):
    """A `BertForSequenceClassification` folder: a classification head, no masked-LM one."""
    from transformers import AutoTokenizer, BertForSequenceClassification
    BertForSequenceClassification.from_pretrained(bert, num_labels=2).save_pretrained(folder)
    AutoTokenizer.from_pretrained(bert).save_pretrained(folder)
    return "BertForSequenceClassification", "no language-model head"


def _head_weights_missing(bert, folder):
    """config.json says BertForMaskedLM, but the head's weights are not in the file."""
    _copy_model(bert, folder)
    state = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in state.items() if not k.startswith("cls.")},
              folder / "model.safetensors", {"format": "pt"})
    return "language-model head", "at random"


BAD_MODELS = [_no_tokenizer, _config_not_json, _config_a_list, _no_weights, _bare_encoder,
              _classifier, _head_weights_missing]


@pytest.mark.parametrize("spoil", BAD_MODELS, ids=lambda f: f.__name__.strip("_"))
def test_bad_model_folder_is_refused(project, tiny_model_dir, spoil):
    fragments = spoil(tiny_model_dir("bert"), project / "model")
    write_prompt(project, project / "model")
    train_refused(project, *fragments)


@pytest.mark.parametrize("spoil", [_bare_encoder, _classifier], ids=["bare", "classifier"])
def test_check_reports_a_model_without_lm_head_at_the_model(project, tiny_model_dir, spoil):
    """From config.json alone, before any weights: the same refusal as train's, located."""
    fragments = spoil(tiny_model_dir("bert"), project / "model")
    write_prompt(project, project / "model")
    result = promptc("check", project / "tiny.prompt")
    assert_refused(result, "error[bad-model]", *fragments)
    line = _line_of(project, "model:")
    column = (project / "tiny.prompt").read_text().splitlines()[line - 1].index('"') + 1
    assert f"tiny.prompt:{line}:{column}" in result.output


def test_model_folder_that_is_not_a_model_is_refused(project):
    (project / "model").mkdir()
    write_prompt(project, project / "model")
    before = files_under(project)
    result = promptc("train", project / "tiny.prompt", "--out", project / "run")
    assert result.exit_code in (1, 2) and "config.json" in result.output, result.output
    assert "Traceback" not in result.output and files_under(project) == before


# ------------------------------------------------------------------ remote code

REMOTE_CODE = """
from pathlib import Path
Path(__file__).resolve().parent.parent.joinpath("RAN").write_text("the folder's code ran")
raise ImportError("never get here")
"""


def _remote_code_model(bert: Path, folder: Path) -> Path:
    """A model folder whose config.json sends transformers to the folder's own evil.py."""
    _copy_model(bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="promptdsl-evil", architectures=["EvilForMaskedLM"],
                  auto_map={"AutoConfig": "evil.EvilConfig",
                            "AutoModelForMaskedLM": "evil.EvilForMaskedLM"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "evil.py").write_text(REMOTE_CODE)
    return folder


def test_remote_code_is_never_run(project, tiny_model_dir):
    model = _remote_code_model(tiny_model_dir("bert"), project / "model")
    write_prompt(project, model)
    result = train_refused(project, "auto_map: evil.py", "trust_remote_code: true")
    assert not (project / "RAN").exists()
    # transformers would ask on stdin: a "y" there changes nothing
    result = promptc("train", project / "tiny.prompt", "--out", project / "run", stdin="y\ny\n")
    assert_refused(result, "does not run")
    assert not (project / "RAN").exists() and not (project / "run").exists()


def test_trust_remote_code_reaches_transformers(project, tiny_model_dir, monkeypatch):
    """With the task's `trust_remote_code: true` transformers is allowed to import the
    folder's code (stopped here at that import, so nothing runs)."""
    import transformers.dynamic_module_utils as dynamic
    from promptdsl.errors import ModelError
    from promptdsl.model.backbone import load_backbone
    model = _remote_code_model(tiny_model_dir("bert"), project / "model")
    asked = []

    def record(class_reference, *args, **kwargs):
        asked.append(class_reference)
        raise ImportError("stopped before running it")
    monkeypatch.setattr(dynamic, "get_class_from_dynamic_module", record)
    for module in ("configuration_auto", "tokenization_auto", "auto_factory"):
        auto = sys.modules.get(f"transformers.models.auto.{module}")
        if auto is not None and hasattr(auto, "get_class_from_dynamic_module"):
            monkeypatch.setattr(auto, "get_class_from_dynamic_module", record)
    with pytest.raises(ModelError):
        load_backbone(str(model), trust_remote_code=True)
    assert asked and asked[0].startswith("evil.")
    assert not (project / "RAN").exists()


# ------------------------------------------------------------------ checkpoints

@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """A project trained once (prompt tuning, one step): the folder with `run/checkpoint/`."""
    folder = tmp_path_factory.mktemp("trained")
    tiny.write_tsv(folder, ROWS, name="train.tsv")
    tiny.write_tsv(folder, ROWS, name="test.tsv")
    write_prompt(folder, tiny_model_dir("bert"))
    result = promptc("train", folder / "tiny.prompt", "--out", folder / "run")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def trained_copy(trained, tmp_path):
    return Path(shutil.copytree(trained, tmp_path / "project"))


def _tensors(checkpoint: Path) -> Path:
    return checkpoint / "trainable.safetensors"


def _rewrite(checkpoint: Path, change) -> str:
    """Store the checkpoint's tensors again after `change(state)`; the name of a tensor."""
    state = load_file(_tensors(checkpoint))
    name = sorted(state)[0]
    change(state, name)
    save_file(state, _tensors(checkpoint), {"format": "1"})
    return name


def _flipped_header_byte(c):
    data = bytearray(_tensors(c).read_bytes())
    data[12] ^= 0xFF                     # inside the JSON header
    _tensors(c).write_bytes(bytes(data))
    return "trainable.safetensors", "corrupted"


def _flipped_data_byte(c):
    data = bytearray(_tensors(c).read_bytes())      # save_checkpoint recorded its sha256
    data[-3] ^= 0x01                     # inside the last tensor's values
    _tensors(c).write_bytes(bytes(data))
    return "trainable.safetensors", "sha256"


def _truncated(c):
    data = _tensors(c).read_bytes()
    _tensors(c).write_bytes(data[:len(data) // 2])
    return "trainable.safetensors", "truncated"


def _tensors_missing(c):
    _tensors(c).unlink()
    return "trainable.safetensors", "missing"


def _wrong_shape(c):
    name = _rewrite(c, lambda s, n: s.__setitem__(n, torch.zeros(3, 5)))
    return name, "shape (3, 5)"


def _wrong_dtype(c):
    name = _rewrite(c, lambda s, n: s.__setitem__(n, s[n].to(torch.float16)))
    return name, "torch.float16"


def _nan(c):
    def poison(state, name):
        state[name] = state[name].clone()
        state[name].view(-1)[0] = float("nan")
    return _rewrite(c, poison), "NaN"


def _inf(c):
    def poison(state, name):
        state[name] = state[name].clone()
        state[name].view(-1)[-1] = float("-inf")
    return _rewrite(c, poison), "infinite"


def _unknown_tensor(c):
    _rewrite(c, lambda s, n: s.__setitem__("not.a.parameter", torch.zeros(2)))
    return "not.a.parameter"


def _checkpoint_file(name: str, file: str, text: str, *expected):
    """A case that overwrites the checkpoint's `file` with `text`."""
    def spoil(c):
        (c / file).write_text(text)
        return expected
    spoil.__name__ = name
    return spoil


_task_a_list = _checkpoint_file("_task_a_list", "task.json", '["tiny"]',
                                "task.json", "not a task IR")
_task_a_string = _checkpoint_file("_task_a_string", "task.json", '"tiny"',
                                  "task.json", "not a task IR")
_task_not_json = _checkpoint_file("_task_not_json", "task.json", '{"name": "tiny",',
                                  "task.json", "cannot be read")
_task_not_a_task = _checkpoint_file("_task_not_a_task", "task.json",
                                    '{"name": "tiny", "model": 3}', "task.json", "not a task")
_meta_a_list = _checkpoint_file("_meta_a_list", "checkpoint.json", "[1]",
                                "checkpoint.json", "not a checkpoint description")


def _task_model_gone(c):
    task = json.loads((c / "task.json").read_text())
    task["model"] = str(c / "no-such-model")
    (c / "task.json").write_text(json.dumps(task))
    return "task.json", "no model can be built"


def _meta_newer_format(c):
    meta = json.loads((c / "checkpoint.json").read_text())
    (c / "checkpoint.json").write_text(json.dumps({**meta, "format": 99}))
    return "checkpoint.json", "format 99"


def _meta_other_labels(c):
    meta = json.loads((c / "checkpoint.json").read_text())
    (c / "checkpoint.json").write_text(json.dumps({**meta, "labels": ["1", "0"]}))
    return "checkpoint.json", "labels"


def _ensemble_escapes(c):
    meta = json.loads((c / "checkpoint.json").read_text())
    meta["ensemble"] = {"members": ["../../elsewhere"], "weights": [1.0]}
    (c / "checkpoint.json").write_text(json.dumps(meta))
    return "checkpoint.json", "ensemble"


BAD_CHECKPOINTS = [_flipped_header_byte, _flipped_data_byte, _truncated, _tensors_missing,
                   _wrong_shape, _wrong_dtype, _nan, _inf, _unknown_tensor, _task_a_list,
                   _task_a_string, _task_not_json, _task_not_a_task, _task_model_gone,
                   _meta_a_list, _meta_newer_format, _meta_other_labels, _ensemble_escapes]


@pytest.mark.parametrize("command", ["eval", "predict"])
@pytest.mark.parametrize("spoil", BAD_CHECKPOINTS, ids=lambda f: f.__name__.strip("_"))
def test_bad_checkpoint_is_refused(trained_copy, spoil, command):
    fragments = spoil(trained_copy / "run" / "checkpoint")
    before = files_under(trained_copy)
    extra = ["--text", "a great movie", "--output", trained_copy / "out.tsv"] \
        if command == "predict" else []
    result = promptc(command, trained_copy / "tiny.prompt", "--checkpoint",
                     trained_copy / "run", *extra)
    assert_refused(result, *fragments)
    assert files_under(trained_copy) == before


def test_sound_checkpoint_still_loads(trained_copy):
    """The checks refuse only what is wrong: the untouched checkpoint evaluates and predicts."""
    result = promptc("eval", trained_copy / "tiny.prompt", "--checkpoint", trained_copy / "run")
    assert result.exit_code == 0, result.output
    result = promptc("predict", trained_copy / "tiny.prompt", "--checkpoint",
                     trained_copy / "run", "--text", "a great movie")
    assert result.exit_code == 0 and "a great movie" in result.output, result.output


# ------------------------------------------------------------------ eval / predict inputs

def _predict(project: Path, *args):
    return promptc("predict", project / "tiny.prompt", "--checkpoint", project / "run", *args)


def test_eval_on_a_folder_that_is_no_checkpoint(trained_copy):
    (trained_copy / "empty").mkdir()
    for folder in (trained_copy / "empty", trained_copy / "nowhere", trained_copy):
        result = promptc("eval", trained_copy / "tiny.prompt", "--checkpoint", folder)
        assert_refused(result, folder.name, "checkpoint")


def test_predict_refuses_a_fifo(trained_copy):
    fifo = trained_copy / "inputs.tsv"
    os.mkfifo(fifo)
    # a reader that opened the pipe would block until a writer comes: let one come, late
    writer = threading.Timer(10, lambda: open(fifo, "w").close())
    writer.start()
    try:
        result = _predict(trained_copy, "--input", fifo)
    finally:
        writer.cancel()
    assert_refused(result, "inputs.tsv", "not a regular file")


def test_predict_refuses_dev_zero(trained_copy):
    # /dev/zero has no extension a reader claims; a link with one must not be read forever
    link = trained_copy / "zero.tsv"
    link.symlink_to("/dev/zero")
    assert_refused(_predict(trained_copy, "--input", link), "zero.tsv", "not a regular file")
    assert_refused(_predict(trained_copy, "--input", "/dev/zero"), "/dev/zero")


def _input_missing_field(p):
    tiny.write_tsv(p, [("a great movie", "1")], columns=("text", "label"), name="in.tsv")
    return ["--input", p / "in.tsv"], ("in.tsv:1", "'sentence'")


def _input_header_only(p):
    (p / "in.tsv").write_text("sentence\n", encoding="utf-8")
    return ["--input", p / "in.tsv"], ("in.tsv:1", "no rows")


def _input_empty(p):
    (p / "in.tsv").write_text("", encoding="utf-8")
    return ["--input", p / "in.tsv"], ("in.tsv", "empty")


def _input_folder(p):
    (p / "in.tsv").mkdir()
    return ["--input", p / "in.tsv"], ("in.tsv", "directory")


def _input_jsonl_not_object(p):
    (p / "in.jsonl").write_text('{"sentence": "fine"}\n42\n', encoding="utf-8")
    return ["--input", p / "in.jsonl"], ("in.jsonl:2", "JSON object")


def _neither_text_nor_input(p):
    return [], ("--text", "--input")


def _text_and_input(p):
    tiny.write_tsv(p, [("a great movie", "1")], name="in.tsv")
    return ["--text", "fine", "--input", p / "in.tsv"], ("--text", "--input")


def _output_folder_missing(p):
    return ["--text", "fine", "--output", p / "nowhere" / "out.tsv"], ("nowhere",)


BAD_PREDICT_INPUTS = [_input_missing_field, _input_header_only, _input_empty, _input_folder,
                      _input_jsonl_not_object, _neither_text_nor_input, _text_and_input,
                      _output_folder_missing]


@pytest.mark.parametrize("spoil", BAD_PREDICT_INPUTS, ids=lambda f: f.__name__.strip("_"))
def test_bad_predict_input_is_refused(trained_copy, spoil):
    args, fragments = spoil(trained_copy)
    before = files_under(trained_copy)
    result = _predict(trained_copy, *args, *([] if "--output" in args else
                                             ["--output", trained_copy / "out.tsv"]))
    assert_refused(result, *fragments)
    assert files_under(trained_copy) == before


def test_text_for_a_template_with_two_fields_is_refused(trained_copy):
    """--text fills a single field; the checkpoint's template has two."""
    task = json.loads((trained_copy / "run" / "checkpoint" / "task.json").read_text())
    pieces = task["template"]["pieces"]
    pieces.append({"type": "field", "name": "note", "filters": [], "shortenable": True})
    (trained_copy / "run" / "checkpoint" / "task.json").write_text(json.dumps(task))
    assert_refused(_predict(trained_copy, "--text", "fine"), "--text fills one field",
                   "sentence, note")


def test_task_json_with_a_broken_inside_is_refused(trained_copy):
    """Top-level keys all there, but a template piece no compiler knows."""
    checkpoint = trained_copy / "run" / "checkpoint"
    task = json.loads((checkpoint / "task.json").read_text())
    task["template"]["pieces"][0] = {"type": "hologram"}
    (checkpoint / "task.json").write_text(json.dumps(task))
    result = promptc("eval", trained_copy / "tiny.prompt", "--checkpoint", trained_copy / "run")
    assert_refused(result, "task.json", "no model can be built")


def test_predict_input_with_an_empty_label_cell_names_its_line(trained_copy):
    (trained_copy / "in.tsv").write_text("sentence\tlabel\na great movie\t1\nfine\t\n",
                                         encoding="utf-8")
    result = _predict(trained_copy, "--input", trained_copy / "in.tsv")
    assert_refused(result, "in.tsv:3", "empty")

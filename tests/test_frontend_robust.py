"""The front end on hostile input (issue 10): numbers no field can hold, absurd ranges, deep
nesting, bad encodings, broken files that must stay cheap, sweep values that look like paths,
and `trust_remote_code`. Every case ends in located diagnostics, never an exception."""
import re

import pytest

from promptdsl.api import check, load
from promptdsl.diagnostics import render_all
from promptdsl.errors import TaskError
from promptdsl.ir import expand_sweep
from promptdsl.ir.pipeline import analyse
from promptdsl.syntax import parse as parse_module
from promptdsl.syntax.fmt import format_file
from promptdsl.syntax.parse import MAX_SYNTAX_ERRORS, parse_text

from tiny import FRONTEND_TASK as BASE, frontend_project

TRAIN_AT = "method finetune { }"


@pytest.fixture
def folder(tmp_path):
    return frontend_project(tmp_path)


def write(folder, text, name="t.prompt") -> str:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(path)


def located(diags, code):
    """(line, column) of each diagnostic of `code`; no diagnostic is internal or unlocated."""
    assert all(d.code != "internal" and d.line >= 1 and d.column >= 1 for d in diags), diags
    render_all(diags)
    return [(d.line, d.column) for d in diags if d.code == code]


def place(text, needle):
    """1-based (line, column) of the first `needle` in `text`."""
    before = text[:text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


# ---- 1. numbers ------------------------------------------------------------------------------
NON_FINITE = {        # where: (text, the literal)
    "train": (BASE.replace(TRAIN_AT, TRAIN_AT + "\n  train { learning_rate: 1e999 }"), "1e999"),
    "data": (BASE.replace('test: "d.tsv" }', 'test: "d.tsv", shots: -1e999 }'), "-1e999"),
    "method option": (BASE.replace(TRAIN_AT, "method lora { dropout: 1e999 }"), "1e999"),
    "verbalizer option": (BASE.replace('"1": "good" }', '"1": "good"  calibrate: 1e999 }'),
                          "1e999"),
    "sweep value": (BASE + "sweep base { train.learning_rate: [1e-3, 1e999] }\n", "1e999"),
    "underflow": (BASE.replace(TRAIN_AT, TRAIN_AT + "\n  train { learning_rate: 1e-400 }"),
                  "1e-400"),
}


@pytest.mark.parametrize("where", list(NON_FINITE))
def test_non_finite_numbers_are_errors_at_the_number(folder, where):
    text, literal = NON_FINITE[where]
    diags = check([write(folder, text)])
    assert located(diags, "bad-number") == [place(text, literal)]
    assert [d.code for d in diags] == ["bad-number"]          # no cascade from the unset value


def test_a_non_finite_set_value_is_an_error_at_the_value(folder):
    result = analyse(write(folder, BASE), overrides={"train.learning_rate": "1e999"})
    assert [(d.code, d.file) for d in result.errors] == \
        [("bad-number", "<--set train.learning_rate>")]
    assert located(result.diagnostics, "bad-number") == [(1, len("train.learning_rate=") + 1)]


OUT_OF_RANGE = {
    "epochs: 1e20": ("train { epochs: 1e20 }", "1e20", "invalid-value"),
    "a float where an integer is wanted": ("train { batch_size: 8.0 }", "8.0", "invalid-value"),
    "thousands of digits": ("train { seed: " + "7" * 5000 + " }", "7777", "bad-number"),
    "learning rate 0": ("train { learning_rate: 0 }", "0 }", "invalid-value"),
    "learning rate < 0": ("train { learning_rate: -1e-3 }", "-1e-3", "invalid-value"),
    "warmup_ratio > 1": ("train { warmup_ratio: 1.5 }", "1.5", "invalid-value"),
    "huge max_length": ("train { max_length: 100000000 }", "100000000", "invalid-value"),
    "huge batch": ("train { batch_size: 1000000000 }", "1000000000", "invalid-value"),
    "negative seed": ("train { seed: -1 }", "-1", "invalid-value"),
    "huge shots": ("data { shots: 1000000000 }", "1000000000", "invalid-value"),
}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_out_of_range_values_are_located_errors(folder, case):
    block, at, code = OUT_OF_RANGE[case]
    text = BASE.replace(TRAIN_AT, TRAIN_AT + "\n  " + block)
    if block.startswith("data"):           # merged into the task's one data block
        text = BASE.replace('test: "d.tsv" }', 'test: "d.tsv", ' + block[len("data { "):])
    diags = check([write(folder, text)])
    assert place(text, at) in located(diags, code), diags
    assert all(d.is_error for d in diags)


@pytest.mark.parametrize("soft, code", [("<soft*1000000000000>", "invalid-value"),
                                        ("<soft*" + "9" * 5000 + ">", "bad-number")])
def test_absurd_soft_token_counts_are_errors_at_the_piece(folder, soft, code):
    text = BASE.replace("It was [MASK]", soft + " It was [MASK]")
    diags = check([write(folder, text)])
    assert [d.code for d in diags] == [code]
    line, column = place(text, soft)
    assert (diags[0].line, diags[0].column) >= (line, column)
    assert diags[0].column <= column + len(soft)


# ---- 2. front end without crashes -------------------------------------------------------------
DEEP = {"braces": "task a {" + "{" * 100_000,
        "lists": "task a { model: " + "[" * 100_000 + "]" * 100_000 + " }",
        "unclosed list": "task a { data { x: " + "[" * 40 + " } }"}


@pytest.mark.parametrize("case", list(DEEP))
def test_deep_nesting_is_one_located_error(folder, case):
    text = DEEP[case]
    diags = check([write(folder, text)])
    openers = [i for i, ch in enumerate(text) if ch in "{["]    # no `}` or `]` before these
    assert located(diags, "too-deep") == [(1, openers[32] + 1)]


def test_deep_nesting_in_a_set_value(folder):
    result = analyse(write(folder, BASE), overrides={"model": "[" * 50_000})
    assert [d.code for d in result.errors] == ["too-deep"]


def test_lone_surrogates_escaped_raw_and_as_bytes(folder):
    escaped = BASE.replace('"./mlm"', '"./mlm\\ud800"')
    assert located(check([write(folder, escaped)]), "bad-escape") == [place(escaped, "\\ud800")]
    raw = parse_text('task a { model: "x\udcff" }')          # what argv gives for a bad byte
    assert [(d.code, d.column) for d in raw.diagnostics] == [("encoding", 19)]
    assert "\udcff" not in raw.source.text                    # it prints
    result = analyse(write(folder, BASE), overrides={"model": '"\udcff"'})
    assert [d.code for d in result.errors] == ["encoding"]
    as_bytes = BASE.encode().replace(b"./mlm", b"./\xed\xa0\x80mlm")   # an encoded surrogate
    assert located(check([write(folder, as_bytes)]), "encoding") == [place(BASE, "./mlm")[:1] +
                                                                     (place(BASE, "./mlm")[1] + 2,)]


def test_invalid_utf8_is_an_error_at_the_bad_byte(folder):
    data = BASE.encode().replace(b"It was", b"It w\xffas")
    diags = check([write(folder, data)])
    line, column = place(BASE, "It was")
    assert [(d.code, d.line, d.column) for d in diags] == [("encoding", line, column + 4)]
    assert "0xff" in diags[0].message
    shown = render_all(diags)
    assert "It w\ufffdas" in shown                            # the line is quoted
    assert diags[0].is_error
    formatted = format_file(write(folder, data, "f.prompt"), write=False)
    assert [(d.code, d.line, d.column) for d in formatted.diagnostics] == \
        [("encoding", line, column + 4)]


def test_a_byte_order_mark_is_accepted_without_shifting_columns(folder):
    assert check([write(folder, "\ufeff" + BASE)]) == []
    broken = BASE.replace("learning", "x").replace('model: "./mlm"', 'model: "./mlm" oops')
    plain = check([write(folder, broken, "a.prompt")])
    with_bom = check([write(folder, "\ufeff" + broken, "b.prompt")])
    assert plain and [(d.line, d.column) for d in with_bom] == [(d.line, d.column) for d in plain]


@pytest.mark.parametrize("label", ["1.5", "true", "[a, b]", "text \"x\"", "1e999"])
def test_odd_label_values_are_located_errors(folder, label):
    text = BASE.replace('test: "d.tsv" }', f'test: "d.tsv", label: {label} }}')
    diags = check([write(folder, text)])
    assert diags and all(d.is_error for d in diags)
    assert place(text, label) in [(d.line, d.column) for d in diags]
    located(diags, "invalid-value")


# ---- 3. broken files stay linear -------------------------------------------------------------
@pytest.fixture
def parsed_chars(monkeypatch):
    """Counts the characters handed to the outer parser."""
    counted = {"chars": 0, "parses": 0}
    real = parse_module.outer_parser

    class Counting:
        def parse(self, text, start):
            counted["chars"] += len(text)
            counted["parses"] += 1
            return real().parse(text, start=start)
    monkeypatch.setattr(parse_module, "outer_parser", Counting)
    return counted


def test_a_file_of_unclosed_tasks_stops_after_the_error_cap(parsed_chars):
    result = parse_text("task a {\n" * 4000)
    codes = [d.code for d in result.diagnostics]
    assert codes.count("unclosed-brace") == MAX_SYNTAX_ERRORS
    assert codes.count("too-many-errors") == 1 and len(codes) == MAX_SYNTAX_ERRORS + 1
    assert parsed_chars["parses"] <= MAX_SYNTAX_ERRORS + 1


@pytest.mark.parametrize("tasks", [400, 4000])
def test_recovery_parses_each_item_as_its_own_text(parsed_chars, tasks):
    text = 'task a { model: "x" }\n' * tasks + "task b {\n"    # one broken item at the end
    result = parse_text(text)
    assert [d.code for d in result.diagnostics] == ["unclosed-brace"]
    assert len(result.file.items) == tasks
    assert parsed_chars["chars"] <= 2 * len(text) + 100    # the whole file, then each item


# ---- 4. sweep values never leave --out -------------------------------------------------------
SAFE = re.compile(r"^[A-Za-z0-9._,=+%-]+$")
HOSTILE = ["../../x", "/etc/passwd", "a/b", "..", ".", "C:\\x", "~root", "x" * 400, "é ü",
           "A", "a", "a%2Fb", ""]


def test_swept_strings_become_safe_unique_folder_names(folder, tmp_path):
    listed = ", ".join(f'"{v}"' if "\\" not in v else f'"{v.replace(chr(92), chr(92) * 2)}"'
                       for v in HOSTILE)
    ir = load(write(folder, BASE + f"sweep base {{ model: [{listed}] }}\n"))
    runs = expand_sweep(ir)
    names = [name for _, name, _ in runs]
    assert [run["model"] for _, _, run in runs] == HOSTILE     # values untouched
    assert len({n.lower() for n in names}) == len(HOSTILE)
    out = (tmp_path / "out").resolve()
    for name in names:
        assert SAFE.match(name) and len(name) <= 120, name
        assert (out / name).resolve().parent == out
    assert names[0] == "model=..%2F..%2Fx" and names[1] == "model=%2Fetc%2Fpasswd"


# ---- 5. trust_remote_code --------------------------------------------------------------------
def test_trust_remote_code_is_a_field_with_a_warning(folder):
    assert load(write(folder, BASE))["trust_remote_code"] is False
    text = BASE.replace('model: "./mlm"', 'model: "./mlm"\n  trust_remote_code: true')
    path = write(folder, text, "trust.prompt")
    diag, = check([path])
    assert (diag.severity, diag.code) == ("warning", "trust-remote-code")
    assert (diag.line, diag.column) == place(text, "true")
    assert "only for models you trust" in diag.message
    ir = load(path)
    assert ir["trust_remote_code"] is True and list(ir).index("trust_remote_code") == 3
    with pytest.raises(TaskError) as err:
        load(write(folder, text.replace(": true", ': "yes"'), "bad.prompt"))
    assert [d.code for d in err.value.diagnostics] == ["invalid-value"]


def test_paths_no_file_system_holds_are_reported_not_raised(folder):
    # found by benchmarks/fuzz_frontend.py: Path.is_dir / is_file raise on a name too long
    long = "x" * 300
    text = f'import "{long}.prompt"\n' + BASE.replace('"./mlm"', f'"./{long}"').replace(
        'test: "d.tsv"', 'test: "d\\u0000.tsv"')
    diags = check([write(folder, text)])
    assert [d.code for d in diags if d.is_error] == ["missing-file", "missing-file"]
    assert located(diags, "missing-file") == [(1, 8), place(text, '"d\\u0000')]


# ---- plugin options that size tensors have upper bounds ----------------------------------------
SIZED_OPTIONS = ["prompt_tuning { length: 100000000 }", "prefix { length: 5000 }",
                 "prefix { hidden: 10000000 }", "lora { r: 1000000 }",
                 "adapter { reduction: 100000 }", "ptuning { hidden: 70000 }",
                 "cot { max_new_tokens: 1000000 }", "pet { generations: 1000 }"]


@pytest.mark.parametrize("method", SIZED_OPTIONS)
def test_a_method_option_too_large_for_any_model_is_an_error_at_it(folder, method):
    text = BASE.replace(TRAIN_AT, f"method {method}")
    diags = check([write(folder, text)])
    value = method.split(": ")[1].rstrip(" }")
    assert located(diags, "invalid-value") == [place(text, value)]
    assert "must be at most" in next(d.message for d in diags if d.code == "invalid-value")

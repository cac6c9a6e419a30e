"""`promptc check | compile | fmt | schema` through click."""
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from promptdsl.cli import main

EXAMPLES = Path(__file__).parent / "examples"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_check_clean_file_exits_0_with_a_summary():
    result = run("check", EXAMPLES / "sst2_zero_shot.prompt", EXAMPLES / "trec_prefix.prompt")
    assert result.exit_code == 0 and result.output == "ok: 2 files, 2 tasks, no errors\n"
    assert run("check", "--json", EXAMPLES / "sst2_zero_shot.prompt").output == "[]\n"


def test_check_summary_counts_warnings(tmp_path, tiny_model_dir, sst2_tsv):
    prompt = tmp_path / "t.prompt"
    prompt.write_text(f'task a {{\n  model: "{tiny_model_dir("bert")}"\n'
                      f'  data {{ test: "{sst2_tsv}", label: label }}\n'
                      '  template: "<soft> {sentence} It was [MASK] ."\n'
                      '  verbalizer { "0": "terrible"  "1": "great" }\n'
                      '  method zero_shot { }\n}\n'
                      'task b extends a { }\n')
    result = run("check", prompt)
    assert result.exit_code == 0
    assert "warning[untrained-soft]" in result.output
    # one warning: task b inherits the very same template span (diagnostics are deduplicated)
    assert result.output.endswith("ok: 1 file, 2 tasks, no errors, 1 warning\n")


def test_check_errors_exit_1_with_rustc_style_output():
    result = run("check", EXAMPLES / "errors" / "typo_field.prompt")
    assert result.exit_code == 1
    out = result.output
    assert "error[unknown-field]: unknown field `learnig_rate` in block `train`" in out
    assert "typo_field.prompt:9:5" in out and "9 |     learnig_rate: 1e-3" in out
    assert "  |     ^^^^^^^^^^^^" in out and "= help: did you mean `learning_rate`?" in out
    assert "Traceback" not in out


def test_check_json():
    result = run("check", "--json", EXAMPLES / "errors" / "no_mask.prompt",
                 EXAMPLES / "sst2_zero_shot.prompt")
    assert result.exit_code == 1
    diag, = json.loads(result.output)
    assert list(diag) == ["file", "line", "column", "end_line", "end_column", "severity", "code",
                          "message", "hint"]
    assert (diag["line"], diag["column"], diag["severity"]) == (5, 13, "error")


def test_usage_and_io_problems_exit_2(tmp_path):
    assert run("check", tmp_path / "missing.prompt").exit_code == 2
    assert run("check").exit_code == 2
    assert run("compile", tmp_path / "missing.prompt").exit_code == 2
    assert run("compile", EXAMPLES / "sst2_zero_shot.prompt", "--set", "novalue").exit_code == 2


def test_compile_prints_byte_stable_json():
    first = run("compile", EXAMPLES / "trec_prefix.prompt")
    second = run("compile", EXAMPLES / "trec_prefix.prompt")
    assert first.exit_code == 0 and first.output == second.output
    assert json.loads(first.output)["name"] == "trec_prefix"


def test_compile_task_and_set():
    result = run("compile", EXAMPLES / "agnews_kpt.prompt", "--task", "agnews_kpt_causal",
                 "--set", "train.epochs=1")
    assert result.exit_code == 0        # only the named task is built and checked
    assert json.loads(result.output)["template"]["pieces"][-1] == {"type": "mask", "name": None}
    result = run("compile", EXAMPLES / "sst2_ptuning.prompt", "--set", "train.epochs=1",
                 "--set", "data.shots=4")
    ir = json.loads(result.output)
    assert ir["train"]["epochs"] == 1 and ir["data"]["shots"] == 4
    assert ir["sweep"] == {"data.sample_seed": [13, 21, 42, 87, 100]}


def test_compile_errors_exit_1():
    result = run("compile", EXAMPLES / "errors" / "unknown_method.prompt")
    assert result.exit_code == 1 and "unknown method `ptunning`" in result.output


def test_fmt_check_and_write(tmp_path):
    path = tmp_path / "t.prompt"
    path.write_text('task t { model: "m" }\n')
    result = run("fmt", "--check", path)
    assert result.exit_code == 1 and "would reformat" in result.output
    assert path.read_text() == 'task t { model: "m" }\n'
    assert run("fmt", path).exit_code == 0
    assert path.read_text() == 'task t {\n  model: "m"\n}\n'
    assert run("fmt", "--check", path).exit_code == 0


def test_fmt_refuses_files_with_syntax_errors(tmp_path):
    path = tmp_path / "bad.prompt"
    shutil.copy(EXAMPLES / "errors" / "unclosed_block.prompt", path)
    result = run("fmt", path)
    assert result.exit_code == 1 and "never closed" in result.output


def test_schema_includes_plugin_options():
    result = run("schema")
    schema = json.loads(result.output)
    assert result.exit_code == 0
    assert "lora" in schema["properties"]["methods"]["items"]["properties"]["name"]["enum"]
    branches = schema["properties"]["methods"]["items"]["allOf"]
    assert any(b["if"]["properties"]["name"]["const"] == "lora" for b in branches)


def test_check_params_shows_what_trains_per_task(tmp_path, tiny_model_dir, sst2_tsv):
    from promptdsl.cli import main as cli
    prompt = tmp_path / "t.prompt"
    prompt.write_text(
        f'task pt {{\n  model: "{tiny_model_dir("bert")}"\n'
        f'  data {{ train: "{sst2_tsv}", test: "{sst2_tsv}", label: label }}\n'
        '  template: "<soft*2> {sentence} It was [MASK] ."\n'
        '  verbalizer { "0": "terrible"  "1": "great" }\n'
        '  method prompt_tuning { }\n  method lora { r: 2 }\n}\n'
        'task ft extends pt {\n  method finetune { }\n}\n')
    out = CliRunner().invoke(cli, ["check", "--params", str(prompt)])
    assert out.exit_code == 0, out.output
    pt, ft = out.output.split("task ft")
    assert "prompt_tuning + lora" in pt and "soft_prompt.weight" in pt and "lora_A" in pt
    assert "embeddings" not in pt                     # the frozen backbone is not listed
    assert "(100.000%)" in ft and "lora" not in ft


def test_plugin_errors_exit_2():
    from promptdsl import MethodSpec, hookimpl, registry

    class Twin:
        @hookimpl
        def promptdsl_methods(self):
            return [MethodSpec("lora", lambda model, options: None)]
    registry.register(Twin(), name="twin")
    try:
        for args in (["plugins"], ["schema"]):
            result = run(*args)
            assert result.exit_code == 2, (args, result.output)
            assert result.output.startswith("error: two plugins define the method `lora`")
            assert "Traceback" not in result.output
    finally:
        registry.reset()


def test_an_unexpected_exception_is_one_line_and_exit_2(monkeypatch):
    from promptdsl.cli import frontend

    def broken(paths):
        raise RuntimeError("boom")
    monkeypatch.setattr(frontend.api, "check_files", broken)
    result = run("check", EXAMPLES / "sst2_zero_shot.prompt")
    assert result.exit_code == 2
    assert result.output.startswith("internal error: RuntimeError: boom (please report it")
    assert result.output.count("\n") == 1

"""`promptc check --params` says, per task, what the prefix cache shares: on, with the template
pieces before the first trainable piece, or off, with `prefix_cache.plan`'s reason."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptdsl.cli import main

VERBALIZER = 'verbalizer { "0": "terrible"  "1": "great" }'


@pytest.fixture
def prompt_file(tmp_path, tiny_model_dir, sst2_tsv):
    llama, bert = tiny_model_dir("llama"), tiny_model_dir("bert")
    path = tmp_path / "t.prompt"
    path.write_text(
        f'task shared {{\n  model: "{llama}"\n'
        f'  data {{ train: "{sst2_tsv}", test: "{sst2_tsv}", label: label }}\n'
        '  template: "{sentence} <soft*6> Answer: [MASK]"\n'
        f'  {VERBALIZER}\n  method prompt_tuning {{ }}\n}}\n'
        'task leading extends shared {\n  template: "{sentence} Answer: [MASK]"\n}\n'
        'task lora extends shared {\n  method lora { r: 2 }\n}\n'
        'task adapter extends shared {\n  method adapter { }\n}\n'
        'task prefix extends shared {\n  method prefix { length: 2 }\n}\n'
        'task disabled extends shared {\n  train { prefix_cache: false }\n}\n'
        'task zero extends leading {\n  method zero_shot { }\n}\n'
        'task icl extends zero {\n'
        '  data { demonstrations: 1, demonstration_draw: fixed }\n}\n'
        f'task masked extends shared {{\n  model: "{bert}"\n'
        '  template: "{sentence} <soft*6> It was [MASK] ."\n}\n')
    return path


def prefix_lines(output: str) -> dict:
    """{task name: its `prefix cache:` line} of `check --params` output."""
    lines, name = {}, None
    for line in output.splitlines():
        if line.startswith("task "):
            name = line.split()[1]
        elif line.strip().startswith("prefix cache:"):
            lines[name] = line.strip()
    return lines


def test_check_params_says_what_the_prefix_cache_shares(prompt_file):
    out = CliRunner().invoke(main, ["check", "--params", str(prompt_file)])
    assert out.exit_code == 0, out.output
    lines = prefix_lines(out.output)
    assert len(lines) == 9
    assert lines["shared"] == (
        "prefix cache: on — `{sentence} ` (1 field, 1 text piece) is computed once per distinct "
        "input; the rest (`<soft*6> Answer: [MASK]`) runs every step")
    # prompt_tuning's default `length` prepends 20 soft tokens: nothing before them to share
    assert lines["leading"].startswith("prefix cache: on, but nothing is shared")
    assert "`<soft*20>`" in lines["leading"]
    assert "`{sentence} <soft*20> Answer: [MASK]`" in lines["leading"]
    for name in ("lora", "adapter", "prefix", "disabled", "masked"):
        assert lines[name].startswith("prefix cache: off — "), (name, lines[name])
    assert "train.prefix_cache is false" in lines["disabled"]
    assert "masked LM sees both sides" in lines["masked"]
    assert "`method_prefix`" in lines["prefix"] and "`method_adapters`" in lines["adapter"]
    assert "backbone" in lines["lora"]
    assert lines["zero"].startswith("prefix cache: on — `{sentence} Answer: ` (1 field, "
                                    "1 text piece), all but its last token")
    assert lines["zero"].endswith("the rest (`[MASK]`) runs every step")
    assert lines["icl"].startswith("prefix cache: on — 1 demonstration per label (the same "
                                   "before every query) then `{sentence} Answer: `")


def test_check_params_json_holds_the_same_report(prompt_file):
    out = CliRunner().invoke(main, ["check", "--json", "--params", str(prompt_file)])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["diagnostics"] == []
    tasks = {t["task"]: t for t in report["tasks"]}
    shared = tasks["shared"]["prefix_cache"]
    assert shared["enabled"] and shared["shares"] and shared["reason"] == ""
    assert (shared["shared"], shared["rest"]) == ("{sentence} ", "<soft*6> Answer: [MASK]")
    assert tasks["shared"]["parameters"]["trainable"] == 6 * 32
    assert tasks["leading"]["prefix_cache"]["enabled"]
    assert not tasks["leading"]["prefix_cache"]["shares"]
    off = tasks["masked"]["prefix_cache"]
    assert not off["enabled"] and "masked LM" in off["reason"]
    assert tasks["icl"]["prefix_cache"]["demonstration_draw"] == "fixed"

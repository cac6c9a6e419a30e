"""How fast the interactive path answers: `promptc check`, `promptc check --params`, and the
language server's reply to an edit.

    python -m benchmarks.interactive [FILE ...] [--runs 7] [--edits 20] [--no-params]

Each command runs as a fresh process (what a user or an editor's linter starts), timed from
start to exit, median of `--runs`, cold and warm interleaved so load hits both alike:
- cold: an empty cache folder (`PROMPTDSL_CACHE`; only the converted models are kept, linked
  to the real ones) each time: the parser is built from the
  grammar, every data file read, the `--params` model built on the meta device;
- warm: the cache folder a first run filled (Lark's parser tables, the data files' summaries,
  the `--params` answer).
The language server: one `promptc lsp` process, one document opened, then `--edits` changes,
each timed from sending `didChange` to receiving its `publishDiagnostics` (median, max).
Default FILE: tasks/sst2.prompt (its 67k-row train file is the slowest shipped check).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"check": 0.3, "check --params": 3.0, "lsp change": 0.1}


def _run(args: list, cache: str) -> float:
    env = {**os.environ, "PROMPTDSL_CACHE": cache, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "promptdsl", *args], env=env,
                          capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"promptc {' '.join(args)} failed:\n{done.stderr}")
    return took


def _fresh_cache(prefix: str) -> str:
    """An empty cache folder but for the converted models (`models/`, linked to the real one:
    converting SmolLM2 once is a download's worth of work, not part of checking)."""
    from promptdsl import cache_dir
    folder = tempfile.mkdtemp(prefix=prefix)
    models = cache_dir("models")
    if models.is_dir():
        os.symlink(models, os.path.join(folder, "models"))
    return folder


def cold_and_warm(args: list, runs: int) -> tuple:
    """(median cold seconds, median warm seconds), interleaved."""
    warm_cache = _fresh_cache("bench-warm-")
    _run(args, warm_cache)                       # fills the warm cache
    cold, warm = [], []
    for i in range(runs):
        order = ("cold", "warm") if i % 2 == 0 else ("warm", "cold")
        for which in order:
            if which == "cold":
                fresh = _fresh_cache("bench-cold-")
                cold.append(_run(args, fresh))
                shutil.rmtree(fresh, ignore_errors=True)
            else:
                warm.append(_run(args, warm_cache))
    shutil.rmtree(warm_cache, ignore_errors=True)
    return statistics.median(cold), statistics.median(warm)


def lsp_latency(path: Path, edits: int) -> tuple:
    """(median, max) seconds from didChange to its diagnostics, one warm server."""
    from promptdsl.editor.lsp_client import LspClient
    text, uri = path.read_text(encoding="utf-8"), path.as_uri()
    client = LspClient(cwd=str(path.parent))
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.notify("initialized", {})
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "prompt", "version": 1, "text": text}})
    client.wait_for("textDocument/publishDiagnostics")     # imports, parser, data: once
    times = []
    for i in range(edits):
        start = time.perf_counter()
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": i + 2},
            "contentChanges": [{"text": text + f"\n# edit {i}\n"}]})
        client.wait_for("textDocument/publishDiagnostics")
        times.append(time.perf_counter() - start)
    client.close()
    return statistics.median(times), max(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.interactive", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", default=[str(ROOT / "tasks" / "sst2.prompt")])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--edits", type=int, default=20)
    p.add_argument("--no-params", action="store_true")
    p.add_argument("--no-lsp", action="store_true")
    args = p.parse_args(argv)
    print(f"| file | what | cold s | warm s | goal (warm) |\n| --- | --- | ---: | ---: | ---: |")
    for file in args.files:
        name = os.path.relpath(file, ROOT)
        commands = [("check", ["check", file])]
        if not args.no_params:
            commands.append(("check --params", ["check", "--params", file]))
        for what, command in commands:
            cold, warm = cold_and_warm(command, args.runs)
            print(f"| {name} | `{what}` | {cold:.2f} | {warm:.2f} | ≤ {GOALS[what]} |",
                  flush=True)
        if not args.no_lsp:
            median, worst = lsp_latency(Path(file).resolve(), args.edits)
            print(f"| {name} | lsp didChange → diagnostics (median, max of {args.edits}) | – | "
                  f"{median * 1000:.0f} ms, {worst * 1000:.0f} ms | ≤ 100 ms |", flush=True)


if __name__ == "__main__":
    main()

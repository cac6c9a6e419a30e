"""Fuzz the front end: mutated, generated and byte-level inputs through `check` (in-process),
counting uncaught exceptions, `internal` diagnostics, unlocated diagnostics and unsafe sweep run
names. `python -m benchmarks.fuzz_frontend --n 100000 [--jobs 2] [--seed 0] [--save DIR]`.

The generator and the mutator take a `pick` (anything with `choice(seq)` and `integer(lo, hi)`),
so tests/test_check_fuzz.py drives the same code from Hypothesis.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "examples"

# pieces of syntax the mutator inserts
SYNTAX = list('{}[]<>"\',:#|*\\\n .-_=') + ["[MASK]", "<soft>", '"""', "task ", "extends ",
                                            "method ", "{{", "}}", "sweep ", "import ", "\t"]
NUMBERS = ["0", "1", "3", "-1", "8", "1.5", "0.5", "1e-3", "2e-5", "1e999", "-1e999", "1e-400",
           "1e20", "3.0", "99999999999999999999", "1" * 400]
WORDS = ["a", "b", "label", "sentence", "lower", "text", "none", "contextual", "lstm", "nan",
         "inf", "r", "x"]
STRINGS = ['"d.tsv"', '"missing.tsv"', '"./mlm"', '"../../x"', '"/abs/path"', '"a/b"', '""',
           '"\\ud800"', '"\\u00e9t\\u00e9"', '"é"', "'single'", '"tab\\there"', '"\\q"']
TEMPLATE_PIECES = ["{sentence}", "{sentence|lower}", "{'a b'}", "{nope}", "[MASK]", "[MASK:a]",
                   "<soft>", "<soft*3>", "<soft*1000000000000>", "<soft:n*2>", "<soft 'It was'>",
                   "[SEP]", "[CLS]", " It was ", " ", "{{", "}}", "{", "}", "<soft*>", "[mask]",
                   "\\n", "\\u00e9", "\\ud800", "<sfot>", "|"]
TRAIN_KEYS = ["epochs", "batch_size", "eval_batch_size", "learning_rate", "weight_decay",
              "warmup_ratio", "grad_accumulation", "max_grad_norm", "max_length", "seed",
              "max_steps", "eval_every", "early_stopping", "device", "precision", "schedule",
              "save_every", "on_nonfinite", "learnig_rate"]
DATA_KEYS = ["train", "test", "validation", "unlabeled", "label", "shots", "sample_seed",
             "demonstrations", "train_rows", "test_rows", "take"]
METHODS = [("finetune", []), ("zero_shot", []), ("prompt_tuning", ["init", "lr"]),
           ("ptuning", ["encoder", "hidden"]), ("lora", ["r", "alpha", "dropout", "targets"]),
           ("prefix", ["length"]), ("pet", ["templates"]), ("nope", ["x"])]
VERBALIZERS = [None, "manual", "soft", "knowledgeable", "auto", "proto", "nope"]


class RandomPick:
    """`pick` over random.Random."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def choice(self, seq):
        return self.rng.choice(seq)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


# ---- generated files: the grammar's constructs, mostly plausible ---------------------------
def value(pick, depth: int = 0) -> str:
    kind = pick.choice(["number", "string", "word", "bool", "null", "tagged", "list", "list"]
                       if depth < 3 else ["number", "string", "word"])
    if kind == "number":
        return pick.choice(NUMBERS)
    if kind == "string":
        return pick.choice(STRINGS + [template(pick)])
    if kind == "word":
        return pick.choice(WORDS)
    if kind == "bool":
        return pick.choice(["true", "false"])
    if kind == "null":
        return "null"
    if kind == "tagged":
        return f"text {pick.choice(STRINGS)}"
    items = [value(pick, depth + 1) for _ in range(pick.integer(0, 3))]
    return "[" + ", ".join(items) + "]"


def template(pick) -> str:
    pieces = [pick.choice(TEMPLATE_PIECES) for _ in range(pick.integer(0, 5))]
    return '"' + "".join(pieces) + '"'


# values a field takes without complaint: most generated fields use one, so that many files
# check clean and the later stages (data checks, sweeps, run names) run too
VALID = {
    "epochs": ["1", "3"], "batch_size": ["8", "2"], "learning_rate": ["1e-3", "2e-5"],
    "warmup_ratio": ["0.1", "0"], "seed": ["42", "0"], "max_steps": ["10", "null"],
    "device": ["cpu", "auto"], "schedule": ["cosine", "linear"], "max_length": ["64", "128"],
    "label": ["label"], "shots": ["1", "null"], "sample_seed": ["13", "21"],
    "test_rows": ["1", "2"], "take": ["first", "sample"],
}
SWEEPS = {"data.sample_seed": ["13", "21", "0"], "train.learning_rate": ["1e-3", "2e-5"],
          "data.test": ['"d.tsv"'], "model": STRINGS + ['"./mlm"'], "train.epochs": ["1", "2"]}


def sane(pick) -> bool:
    """Mostly true: the generated choice is one a correct file makes (how often: the file's
    `sane_percent`, drawn in `generated`)."""
    return pick.integer(0, 99) < getattr(pick, "sane_percent", 80)


def field(pick, keys) -> str:
    valid = [k for k in keys if k in VALID]
    key = pick.choice(valid) if valid and sane(pick) else pick.choice(keys)
    val = pick.choice(VALID[key]) if key in VALID and sane(pick) else value(pick)
    if not sane(pick) and pick.integer(0, 1):
        val += ", " + value(pick)         # an implicit list
    return f"{key}: {val}"


def fields(pick, keys, most: int) -> list:
    """Up to `most` fields, mostly of distinct keys."""
    out = {}
    for _ in range(pick.integer(0, most)):
        entry = field(pick, keys)
        key = entry.split(":")[0]
        out[key if sane(pick) else f"{key}{len(out)}"] = entry
    return list(out.values())


def block(pick, head: str, entries: list) -> str:
    sep = pick.choice(["\n    ", "  ", ", "])
    return head + " { " + sep.join(entries) + " }"


def task_text(pick, name: str, parent: str | None) -> str:
    """A task: with a parent, every entry may be left out (inherited)."""
    optional = parent is not None
    entries = []
    if not optional or not sane(pick):
        entries.append("model: " + ('"./mlm"' if sane(pick) else value(pick)))
    if not optional or not sane(pick):
        entries.append(block(pick, "data", ['test: "d.tsv"', 'train: "d.tsv"'] +
                             fields(pick, DATA_KEYS[4:], 3)))
    if not optional or not sane(pick):
        if sane(pick):
            soft = pick.choice(["", "<soft> ", "<soft*3> ", "<soft:n*2> "])
            entries.append(f'template: "{soft}{{sentence}} It was [MASK]."')
        elif pick.integer(0, 1):
            entries.append(f"template: {template(pick)}")
        else:
            entries.append(block(pick, "templates", [f"{w}: {template(pick)}"
                                                     for w in ("a", "b")[:pick.integer(0, 2)]]))
    if not optional or not sane(pick):
        if sane(pick):
            entries.append('verbalizer { "0": "bad"  "1": "good", "great" }')
        else:
            kind = pick.choice(VERBALIZERS)
            words = ['"0": "bad"', '"1": "good", "great"', "calibrate: " + value(pick),
                     field(pick, WORDS)]
            entries.append(block(pick, "verbalizer" + (f" {kind}" if kind else ""),
                                 words[:pick.integer(0, len(words))]))
    if not optional or not sane(pick):
        methods = METHODS[:3] if sane(pick) else METHODS
        for _ in range(1 if sane(pick) else 2):
            name_, options = pick.choice(methods)
            body = [] if sane(pick) else [field(pick, options or WORDS)
                                           for _ in range(pick.integer(1, 2))]
            entries.append(block(pick, f"method {name_}", body))
    if pick.integer(0, 1):
        entries.append(block(pick, "train", fields(pick, TRAIN_KEYS, 4)))
    if pick.integer(0, 6) == 0:
        entries.append(f"{pick.choice(['trust_remote_code', 'metric', 'target', 'nope'])}: "
                       f"{pick.choice(['true', 'false']) if sane(pick) else value(pick)}")
    head = f"task {name}" + (f" extends {parent}" if parent else "")
    return block(pick, head, entries)


def sweep_text(pick, name: str) -> str:
    entries = []
    for _ in range(pick.integer(1, 2)):
        if sane(pick):
            key = pick.choice(list(SWEEPS))
            items = [pick.choice(SWEEPS[key]) for _ in range(pick.integer(1, 3))]
            entries.append(f"{key}: [{', '.join(items)}]")
        else:
            key = pick.choice(list(SWEEPS) + ["method.finetune.x", "verbalizer.calibrate",
                                               "nope.x"])
            entries.append(f"{key}: {value(pick, 2)}")
    return block(pick, f"sweep {name}", entries)


def generated(pick) -> str:
    pick.sane_percent = pick.choice([80, 95, 100])
    names = ["a", "b", "c"]
    items = []
    if pick.integer(0, 6) == 0:
        items.append(f"import {pick.choice(STRINGS)}")
    count = pick.integer(1, 3)
    for i in range(count):
        parent = pick.choice([None, None] + names[:i]) if sane(pick) else pick.choice(names)
        items.append(task_text(pick, names[i], parent))
    if pick.integer(0, 1):
        items.append(sweep_text(pick, pick.choice(names[:count] if sane(pick) else names)))
    return "\n\n".join(items) + "\n"


# ---- mutations of a text --------------------------------------------------------------------
def mutated(pick, text: str, rounds: int | None = None) -> str:
    for _ in range(rounds or pick.integer(1, 4)):
        pos = pick.integer(0, len(text))
        action = pick.choice(["insert", "delete", "replace", "duplicate"])
        piece = pick.choice(SYNTAX + NUMBERS + TEMPLATE_PIECES)
        if action == "insert":
            text = text[:pos] + piece + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + pick.integer(1, 12):]
        elif action == "replace":
            text = text[:pos] + piece + text[pos + len(piece):]
        else:
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            start = text.rfind("\n", 0, pos) + 1
            text = text[:end] + "\n" + text[start:end] + text[end:]
    return text


BAD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\r", b"\x00", b"\xe9",
             b"\xf4\x90\x80\x80", b"\xc0\xaf"]


def byte_mutated(pick, data: bytes) -> bytes:
    for _ in range(pick.integer(1, 3)):
        pos = pick.integer(0, len(data))
        data = data[:pos] + pick.choice(BAD_BYTES) + data[pos + pick.integer(0, 1):]
    return data


def deep(pick) -> str:
    """Nesting and size extremes."""
    n = pick.choice([50, 1000, 100000])
    return pick.choice([
        "task a {" + "{" * n,
        "task a { model: " + "[" * n + "]" * n + " }",
        "task a { train { epochs: " + "9" * n + " } }",
        "task a {\n" * min(n, 2000),
        'task a { template: "' + "<soft>" * min(n, 5000) + '" }',
    ])


# ---- the driver -----------------------------------------------------------------------------
SAFE_NAME = re.compile(r"^[A-Za-z0-9._=,+%-]+$")


def make_workdir(root: Path) -> Path:
    """A folder with the test examples, their data, `d.tsv` and a config-only masked LM."""
    sys.path.insert(0, str(ROOT / "tests"))
    import tiny
    shutil.copytree(ROOT / "tests" / "data", root / "data", dirs_exist_ok=True)
    work = root / "examples"
    work.mkdir(exist_ok=True)
    for path in EXAMPLES.glob("*.prompt"):
        shutil.copy(path, work / path.name)
    tiny.frontend_project(work)
    return work


def one_input(pick, seeds: list) -> tuple[str, bytes, dict | None]:
    """(kind, file bytes, --set overrides or None)."""
    kind = pick.choice(["generated", "generated", "mutated", "mutated", "bytes", "set", "deep"])
    if kind == "generated":
        return kind, generated(pick).encode("utf-8", "surrogatepass"), None
    if kind == "mutated":
        text = pick.choice(seeds + [generated(pick)])
        return kind, mutated(pick, text).encode("utf-8", "surrogatepass"), None
    if kind == "bytes":
        return kind, byte_mutated(pick, pick.choice(seeds).encode("utf-8")), None
    if kind == "set":
        key = pick.choice([f"train.{k}" for k in TRAIN_KEYS] + [f"data.{k}" for k in DATA_KEYS]
                          + ["model", "trust_remote_code", "method.finetune.x", "verbalizer.x",
                             "nope", "a.b.c.d"])
        text = pick.choice([value(pick), mutated(pick, value(pick), 1), "\udcff", ""])
        return kind, generated(pick).encode("utf-8"), {key: text}
    return kind, deep(pick).encode("utf-8"), None


def check_one(path: Path, data: bytes, overrides) -> list[str]:
    """The problems one input shows (empty: fine)."""
    from promptdsl.api import check_files
    from promptdsl.diagnostics import render_all
    from promptdsl.ir.pipeline import analyse
    from promptdsl.ir.sweep import expand_sweep
    path.write_bytes(data)
    problems = []
    try:
        if overrides is None:
            diagnostics, tasks = check_files([str(path)])
            tasks = tasks.get(str(path), {})
        else:
            result = analyse(str(path), overrides=overrides)
            diagnostics, tasks = result.diagnostics, result.tasks
        render_all(diagnostics)
        for diag in diagnostics:
            if diag.code == "internal":
                problems.append(f"internal: {diag.message[:200]}")
            elif diag.line < 1 or diag.column < 1:
                problems.append(f"unlocated: {diag.code}: {diag.message[:120]}")
        if not any(d.is_error for d in diagnostics):
            for ir in tasks.values():
                for _, name, _ in expand_sweep(ir)[:50]:
                    if name and not SAFE_NAME.match(name):
                        problems.append(f"unsafe run name: {name!r}")
    except Exception as exc:   # noqa: BLE001 - counting these is the point
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        problems.append(f"raised {type(exc).__name__} at {Path(frame.filename).name}:"
                        f"{frame.lineno}: {str(exc)[:120]}")
    return problems


def worker(args) -> dict:
    seed, count, save = args
    rng = random.Random(seed)
    pick = RandomPick(rng)
    seeds = [p.read_text("utf-8") for p in sorted(EXAMPLES.glob("*.prompt"))]
    sys.setrecursionlimit(1000)          # what a user's interpreter has
    with tempfile.TemporaryDirectory() as tmp:
        work = make_workdir(Path(tmp))
        kinds, found, examples = Counter(), Counter(), {}
        for i in range(count):
            kind, data, overrides = one_input(pick, seeds)
            kinds[kind] += 1
            for problem in check_one(work / "fuzz.prompt", data, overrides):
                found[problem] += 1
                if problem not in examples:
                    examples[problem] = (kind, data, overrides)
        if save:
            out = Path(save)
            out.mkdir(parents=True, exist_ok=True)
            for n, (problem, (kind, data, overrides)) in enumerate(examples.items()):
                stem = out / f"seed{seed}-{n}"
                stem.with_suffix(".prompt").write_bytes(data)
                stem.with_suffix(".txt").write_text(f"{problem}\n{kind}\n{overrides!r}\n")
    return {"inputs": count, "kinds": dict(kinds), "problems": dict(found)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="inputs in all")
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="write one input per problem found here")
    args = parser.parse_args(argv)
    start = time.time()
    shares = [args.n // args.jobs + (i < args.n % args.jobs) for i in range(args.jobs)]
    tasks = [(args.seed * 1000 + i, n, args.save) for i, n in enumerate(shares)]
    if args.jobs == 1:
        results = [worker(tasks[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(worker, tasks)
    kinds, problems = Counter(), Counter()
    for result in results:
        kinds.update(result["kinds"])
        problems.update(result["problems"])
    summary = {"inputs": sum(r["inputs"] for r in results), "kinds": dict(kinds),
               "problem_inputs": sum(problems.values()), "distinct_problems": len(problems),
               "seconds": round(time.time() - start, 1)}
    print(json.dumps(summary, indent=2))
    for problem, n in problems.most_common(30):
        print(f"{n:7d}  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

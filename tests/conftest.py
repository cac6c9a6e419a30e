"""Shared fixtures: tiny random models of every family saved to disk (built once per session),
small data files, and task IR dicts. See tests/tiny.py for what the models are."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# tests never reach a hub; a lookup that would go online fails fast instead
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

sys.path.insert(0, str(Path(__file__).parent))
import tiny  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run far faster on one torch thread, above all on a busy machine."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """`tiny_model_dir(name)` -> directory of the saved tiny model `name` (one of
    tiny.MODEL_NAMES: bert, roberta, gpt2, llama, t5), built on first use, shared by the session.
    Treat it as read-only."""
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = tiny.save_tiny_model(name, tmp_path_factory.mktemp(f"tiny-{name}"))
        return built[name]
    return get


@pytest.fixture(params=tiny.MODEL_NAMES)
def any_tiny_model(request, tiny_model_dir):
    """Parametrized over every tiny model: yields (name, directory)."""
    return request.param, tiny_model_dir(request.param)


@pytest.fixture
def write_tsv(tmp_path):
    """`write_tsv(rows, columns=("sentence", "label"), name="data.tsv")` -> path in tmp_path."""
    def write(rows, columns=("sentence", "label"), name="data.tsv"):
        return tiny.write_tsv(tmp_path, rows, columns, name)
    return write


@pytest.fixture
def sst2_tsv(tmp_path):
    """A 10-row SST-2-like TSV (sentence, label) in tmp_path."""
    return tiny.write_tsv(tmp_path, tiny.SST2_ROWS, name="sst2.tsv")


@pytest.fixture
def make_task():
    """`make_task(model_dir, template, labels, **defaults)` -> a complete task IR dict."""
    return tiny.make_task

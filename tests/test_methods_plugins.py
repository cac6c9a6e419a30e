"""The plugin door: a separately packaged third-party method (examples/plugin-bitfit) installs,
is found through the entry-point group, and trains from a .prompt file; autoloading can be
turned off; two plugins claiming one method name is an error naming both packages."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import promptdsl
from promptdsl import registry
from promptdsl.errors import PluginError, TaskError

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugin-bitfit"

PROMPT = """
task bitfit_demo {{
  model: "{model}"
  data {{
    train: "train.tsv"
    test: "train.tsv"
    label: label
  }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{
    "0": "terrible"
    "1": "great"
  }}
  method bitfit {{ layer_norm: false }}
  train {{
    epochs: 2
    batch_size: 4
    learning_rate: 1e-2
    device: cpu
  }}
}}
"""


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """pip-install the example plugin into a private folder (offline: no index, no build env)."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "plugin-bitfit"   # builds leave the repo clean
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                  "__pycache__"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--quiet", "--target", str(target),
         str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return target


@pytest.fixture
def plugin_on_path(installed_plugin, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_plugin))
    monkeypatch.delenv(registry.DISABLE_ENV, raising=False)
    registry.reset()
    yield installed_plugin
    registry.reset()
    sys.modules.pop("promptdsl_bitfit", None)


@pytest.mark.slow        # pip-installs examples/plugin-bitfit (stays in CI)
def test_third_party_method_trains_from_a_prompt_file(plugin_on_path, tmp_path, tiny_model_dir,
                                                      sst2_tsv):
    from promptdsl.train.runner import train_task
    spec = registry.get_registry().methods["bitfit"]
    assert spec.origin == "promptdsl-bitfit 0.1.0"
    assert any(p.package == "promptdsl-bitfit" and not p.builtin
               for p in registry.get_registry().plugins)

    (tmp_path / "train.tsv").write_bytes(Path(sst2_tsv).read_bytes())
    path = tmp_path / "bitfit.prompt"
    path.write_text(PROMPT.format(model=tiny_model_dir("bert")), encoding="utf-8")
    task = promptdsl.load(path)
    assert task["methods"] == [{"name": "bitfit", "options": {"layer_norm": False}}]

    model = promptdsl.compile(task)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad and p.numel()]
    assert trainable and all(n.endswith(".bias") and "LayerNorm" not in n for n in trainable)

    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda *a, **k: None)
    assert summary["parameters"]["trainable"] == sum(
        p.numel() for n, p in model.named_parameters() if p.requires_grad)
    from safetensors.torch import load_file
    saved = load_file(str(tmp_path / "run" / "checkpoint" / "trainable.safetensors"))
    assert saved and all(n.endswith(".bias") for n in saved if n != "soft_prompt.weight")
    changed = [n for n, v in saved.items() if v.numel() and
               not torch.equal(v, dict(model.named_parameters())[n].detach())]
    assert changed, "training changed no bias"
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["task"] == "bitfit_demo"


@pytest.mark.slow        # pip-installs examples/plugin-bitfit (stays in CI)
def test_disabling_autoload_hides_third_party_methods(plugin_on_path, monkeypatch, tmp_path,
                                                       tiny_model_dir):
    monkeypatch.setenv(registry.DISABLE_ENV, "1")
    registry.reset()
    reg = registry.get_registry()
    assert "bitfit" not in reg.methods and "lora" in reg.methods
    path = tmp_path / "bitfit.prompt"
    path.write_text(PROMPT.format(model=tiny_model_dir("bert")), encoding="utf-8")
    with pytest.raises(TaskError, match="bitfit"):
        promptdsl.load(path)


@pytest.mark.slow        # pip-installs examples/plugin-bitfit (stays in CI)
def test_plugins_command_lists_the_plugin_with_its_version(plugin_on_path):
    from click.testing import CliRunner
    from promptdsl.cli import main
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "promptdsl-bitfit 0.1.0" in result.output and "bitfit" in result.output


def _plugin_module(name: str, method: str):
    module = types.ModuleType(name)

    @promptdsl.hookimpl
    def promptdsl_methods():
        return [promptdsl.MethodSpec(name=method, apply=lambda model, options: None)]
    module.promptdsl_methods = promptdsl_methods
    return module


class _EntryPoint:
    def __init__(self, name, package, version, module):
        self.name, self.module = name, module
        self.dist = types.SimpleNamespace(name=package, version=version)

    def load(self):
        return self.module


def test_duplicate_method_names_are_an_error_naming_both_packages(monkeypatch):
    points = [_EntryPoint("a", "alpha-plugin", "1.0", _plugin_module("alpha_mod", "twin")),
              _EntryPoint("b", "beta-plugin", "2.5", _plugin_module("beta_mod", "twin"))]
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: points)
    monkeypatch.delenv(registry.DISABLE_ENV, raising=False)
    registry.reset()
    try:
        with pytest.raises(PluginError) as error:
            registry.get_registry()
        message = str(error.value)
        assert "twin" in message and "alpha-plugin 1.0" in message and "beta-plugin 2.5" in message
    finally:
        registry.reset()


def test_a_misspelt_hook_in_a_package_fails_naming_the_package(monkeypatch):
    from click.testing import CliRunner
    from promptdsl.cli import main
    module = types.ModuleType("gamma_mod")

    @promptdsl.hookimpl
    def promptdsl_method():
        return []
    module.promptdsl_method = promptdsl_method
    monkeypatch.setattr(registry.metadata, "entry_points",
                        lambda group: [_EntryPoint("gamma", "gamma-plugin", "0.3", module)])
    monkeypatch.delenv(registry.DISABLE_ENV, raising=False)
    registry.reset()
    try:
        with pytest.raises(PluginError, match="plugin `gamma` from package `gamma-plugin` "
                                              "implements `promptdsl_method`"):
            registry.get_registry()
        result = CliRunner().invoke(main, ["plugins"])
        assert result.exit_code == 2 and result.output.startswith("error: plugin `gamma`")
        assert "Traceback" not in result.output
    finally:
        registry.reset()

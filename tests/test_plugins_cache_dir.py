"""One cache location (`promptdsl.cache_dir`), used by the tokenization cache and the smollm2
model source alike."""
import promptdsl
from promptdsl.data import cache
from promptdsl_plugins.sources import smollm2


def test_cache_dir_honours_promptdsl_cache_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PROMPTDSL_CACHE", str(tmp_path / "mine"))
    assert promptdsl.cache_dir("models") == tmp_path / "mine" / "models"
    monkeypatch.delenv("PROMPTDSL_CACHE")
    assert promptdsl.cache_dir("models") == tmp_path / "xdg" / "promptdsl" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert promptdsl.cache_dir("x") == tmp_path / "home" / ".cache" / "promptdsl" / "x"


def test_data_cache_and_smollm2_share_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTDSL_CACHE", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "tokenized"
    assert smollm2.cache_dir() == tmp_path / "models" / smollm2.NAME

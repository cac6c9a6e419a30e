"""Smoke run of benchmarks/data_path.py (it runs and prints its figures; no timing asserted)."""
import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "data_path.py"


def test_data_path_benchmark_runs(capsys):
    spec = importlib.util.spec_from_file_location("data_path_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--rows", "300", "--tokenizer", "tiny", "--repeat", "1"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{")]
    figures = {r["figure"]: r for r in records}
    assert {"data_path.render_tokenize", "data_path.total",
            "data_path.padding_waste"} <= set(figures)
    assert figures["data_path.total"]["rows"] == 300
    assert 0 <= figures["data_path.padding_waste"]["bucketed_train"] < 1

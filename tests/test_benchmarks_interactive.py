"""`python -m benchmarks.interactive` runs end to end and prints its table (it asserts no speed:
figures are for benchmarks/NOTES.md)."""
from benchmarks import interactive


def test_interactive_benchmark_prints_its_rows(tmp_path, capsys, tiny_model_dir, write_tsv):
    write_tsv([("good", "1"), ("bad", "0")], name="d.tsv")
    path = tmp_path / "t.prompt"
    path.write_text(f'task t {{\n  model: "{tiny_model_dir("gpt2")}"\n'
                    '  template: "{sentence} It was [MASK]"\n'
                    '  verbalizer {\n    "0": "bad"\n    "1": "good"\n  }\n'
                    '  method zero_shot { }\n  data {\n    test: "d.tsv"\n  }\n}\n')
    interactive.main([str(path), "--runs", "1", "--edits", "2", "--no-params"])
    rows = [line for line in capsys.readouterr().out.splitlines() if "t.prompt" in line]
    assert len(rows) == 2 and "`check`" in rows[0] and " ms" in rows[1]

"""A tiny training project: a 16-row task over tests/tiny.py's BERT with dropout off (so several
ranks and one process compute the same), for tests/test_distributed.py and
benchmarks/gpu_check.sh.

    python -m benchmarks.tiny_project FOLDER [--device cpu|cuda] [--precision auto|fp32|bf16]
    python -m benchmarks.tiny_project --compare RUN_A RUN_B

The first writes FOLDER/{bert/, train.tsv, test.tsv, tiny.prompt} and prints the .prompt file's
path; the second prints how far two run directories' trainable tensors are apart.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import tiny  # noqa: E402

TRAIN_ROWS = [(f"{adverb}{word} {noun}", label)
              for word, label in (("great", "1"), ("terrible", "0"))
              for adverb in ("", "really ")
              for noun in ("movie", "film", "story", "cast")]
PROMPT = """task tiny {{
  model: "{model}"
  data {{ train: "train.tsv"  test: "test.tsv"  label: label }}
  template: "{{sentence}} It was [MASK] ."
  verbalizer {{ "0": "terrible"  "1": "great" }}
  method finetune {{ }}
  train {{
    epochs: 2  batch_size: 8  learning_rate: 1e-3  device: {device}  precision: {precision}
  }}
}}
"""


def write_project(folder, device: str = "cpu", precision: str = "auto") -> Path:
    """Write the project into `folder`; return the .prompt file's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_dir = tiny.save_tiny_model("bert", folder / "bert")
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tiny.write_tsv(folder, TRAIN_ROWS, name="train.tsv")
    tiny.write_tsv(folder, tiny.SST2_ROWS, name="test.tsv")
    path = folder / "tiny.prompt"
    path.write_text(PROMPT.format(model=model_dir.resolve(), device=device, precision=precision),
                    encoding="utf-8")
    return path


def trainable_tensors(run) -> dict:
    """`{"<file under the run>:<tensor name>": tensor}` of every safetensors file in a run
    directory's checkpoint/."""
    from safetensors.torch import load_file
    run = Path(run)
    files = sorted((run / "checkpoint").rglob("*.safetensors"))
    if not files:
        raise SystemExit(f"{run / 'checkpoint'}: no safetensors files")
    return {f"{f.relative_to(run)}:{name}": t for f in files for name, t in load_file(f).items()}


def difference(run_a, run_b) -> str:
    """One line: the relative norm of the difference over all tensors, and the largest
    element-wise difference."""
    a, b = trainable_tensors(run_a), trainable_tensors(run_b)
    if a.keys() != b.keys():
        return f"different tensors: {sorted(a.keys() ^ b.keys())[:5]}"
    apart = sum(float((a[k].float() - b[k].float()).pow(2).sum()) for k in a) ** 0.5
    size = sum(float(a[k].float().pow(2).sum()) for k in a) ** 0.5
    largest = max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].numel())
    return (f"{len(a)} tensors: relative difference {apart / max(size, 1e-30):.2e}, "
            f"largest element difference {largest:.2e}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tiny_project",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"))
    args = parser.parse_args(argv)
    if args.compare:
        print(difference(*args.compare))
    elif args.folder:
        print(write_project(args.folder, args.device, args.precision))
    else:
        parser.error("give FOLDER or --compare RUN_A RUN_B")


if __name__ == "__main__":
    main()

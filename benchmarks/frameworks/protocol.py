"""The one protocol every framework column runs (figure 3), in its own process.

Each column is a `Worker` (promptdsl, PEFT / hand-written, OpenPrompt); the protocol times the
same phases for all of them on the same files, model, template, method, batch and steps:
  load     build the model with the method applied
  prepare  read the TSVs and turn every row into model-ready batches (render + tokenize + pad)
  train    `steps` optimizer steps (zero_grad, forward, loss, backward, clip, step), the first
           one untimed (warm-up), then examples/s of the median step (and the mean)
  eval     predictions for the dev rows, examples/s and accuracy
  save     the checkpoint a user of that framework writes, its size on disk
Peak memory is the peak RSS of each phase (and peak GPU memory on CUDA). Only torch and the
standard library are imported here: the OpenPrompt column runs this file in its own venv.

Usage (what compare.py runs): python -m benchmarks.frameworks.<column> CONFIG.json
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from .. import measure


class Worker:
    """What a column implements. `cfg` is the JSON config compare.py writes."""
    name = "?"

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.device = torch.device(cfg["device"])
        self.autocast_dtype = torch.bfloat16 if self.device.type == "cuda" else None

    def load(self) -> None: ...
    def prepare(self, train_path: str, dev_path: str) -> tuple: ...  # (train batches, eval batches)
    def trainable_parameters(self) -> list: ...
    def loss(self, batch) -> torch.Tensor: ...
    def predict(self, batch) -> tuple: ...  # (predicted label indices, gold label indices)
    def save(self, directory: Path) -> None: ...
    def module(self) -> torch.nn.Module: ...
    label_key = "labels"                 # where a batch dict keeps its gold labels

    def batch_size(self, batch) -> int:
        return len(batch[self.label_key])

    def batch_tokens(self, batch) -> tuple:
        """(real tokens, padded tokens) of a batch dict with an attention mask."""
        mask = batch["attention_mask"]
        return int(mask.sum()), mask.numel()

    def extra(self) -> dict:
        """Figures only this column has (run after the common ones)."""
        return {}


def to_device(batch, device):
    if type(batch) is dict:
        return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    return batch.to(device)


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(worker: Worker) -> dict:
    cfg, device = worker.cfg, worker.device
    torch.manual_seed(cfg["seed"])
    out = {"framework": worker.name, "method": cfg["method"], "model": cfg["model_name"]}

    start = time.perf_counter()
    worker.load()
    out["load_s"] = round(time.perf_counter() - start, 3)
    out["rss_after_load_mb"] = round(measure.rss_bytes() / 2**20, 1)

    start = time.perf_counter()
    train_batches, eval_batches = worker.prepare(cfg["train_path"], cfg["dev_path"])
    seconds = time.perf_counter() - start
    rows = sum(worker.batch_size(b) for b in train_batches) + \
        sum(worker.batch_size(b) for b in eval_batches)
    out.update(data_prep_s=round(seconds, 3), data_prep_examples=rows,
               data_prep_examples_per_s=round(rows / seconds, 1))
    real, padded = map(sum, zip(*(worker.batch_tokens(b) for b in train_batches)))
    out["train_padding_waste"] = round(1 - real / padded, 4)

    module = worker.module().to(device)
    params = worker.trainable_parameters()
    out["trainable_params"] = sum(p.numel() for p in params)
    optimizer = torch.optim.AdamW(params, lr=cfg["learning_rate"])
    module.train()

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        with measure.autocast(device, worker.autocast_dtype):
            loss = worker.loss(to_device(batch, device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss

    steps = cfg["train_steps"]
    out["rss_before_train_mb"] = round(measure.rss_bytes() / 2**20, 1)
    measure.reset_peak(device)
    step(train_batches[0])
    rates, seconds, examples, tokens = [], 0.0, 0, 0
    for i in range(1, steps):
        batch = train_batches[i % len(train_batches)]
        took = measure.timed(lambda: step(batch), device)
        rates.append(worker.batch_size(batch) / took)
        seconds += took
        examples += worker.batch_size(batch)
        tokens += worker.batch_tokens(batch)[0]
    # the median step resists a burst of load from other processes; the mean is kept beside it
    out.update(train_examples_per_s=round(statistics.median(rates), 2),
               train_examples_per_s_mean=round(examples / seconds, 2),
               train_tokens_per_s=round(tokens / seconds, 1),
               train_step_ms=round(1000 * seconds / max(1, steps - 1), 1),
               **{f"train_{k}": v for k, v in measure.peak_memory(device).items()},
               **measure.training_state_bytes(module, optimizer))

    module.eval()
    measure.reset_peak(device)
    start, correct, total = time.perf_counter(), 0, 0
    with torch.no_grad():
        for batch in eval_batches:
            with measure.autocast(device, worker.autocast_dtype):
                predicted, gold = worker.predict(to_device(batch, device))
            correct += int((predicted.cpu() == gold.cpu()).sum())
            total += len(gold)
    measure.sync(device)
    seconds = time.perf_counter() - start
    out.update(eval_examples_per_s=round(total / seconds, 1), eval_examples=total,
               accuracy=round(correct / total, 4),
               **{f"eval_{k}": v for k, v in measure.peak_memory(device).items()})

    with tempfile.TemporaryDirectory() as tmp:
        worker.save(Path(tmp))
        out["checkpoint_mb"] = round(directory_bytes(Path(tmp)) / 2**20, 3)
    out.update(worker.extra())
    return out


def main(worker_class) -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    torch.set_num_threads(cfg.get("threads") or torch.get_num_threads())
    result = run(worker_class(cfg))
    print("RESULT " + json.dumps(result), flush=True)

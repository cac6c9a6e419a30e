"""Generation figures on E2E rows with SmolLM2-135M-Instruct (its real weights), from the tasks
of tasks/e2e.prompt, each a ratio of two candidates timed side by side in one process
(interleaved repeats, medians: benchmarks.measure.interleaved):

  training   target tokens/s of our training step (the TrainingLoop's forward + backward
             through the PromptModel: `default_loss` under its autocast) against the raw
             transformers model's own `model(input_ids, attention_mask, labels=…)` + backward,
             on the same collated batches (the raw labels are the target tokens, -100 on the
             prompt; position ids counted over real tokens, as left padding needs). The raw
             model is the PromptModel's own backbone, so LoRA's modules are in both; with soft
             tokens it gets the same input embeddings (soft tokens spliced in), so backward runs
             through every layer in both. Both losses on the first batch are printed: they
             must agree. Goal: ours <= 1.05x the raw time.
  generate   generate_texts over the same inputs in batches (`--batch-size`, default 32, the
             default eval_batch_size) against one input at a time, greedy; on the zero-shot
             model, or on a trained run's checkpoint with `--checkpoint RUN` (a trained model
             stops at about the same length for every input, the zero-shot one often runs to
             max_new_tokens, and a batch decodes until its longest row stops). Goal: batched
             >= 5x faster.

    python -m benchmarks.generation [--quick] [--threads N] [--device cpu|cuda|auto]
                                    [--batch-size B] [--checkpoint RUN]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from promptdsl.data.collator import IGNORE

from . import measure
from .context import Context, benchmark_parser, chosen_figures, start
from .handwritten import position_ids

TASK_FILE = Path(__file__).resolve().parent.parent / "tasks" / "e2e.prompt"
TRAINING_TASKS = ("e2e_prompt_tuning", "e2e_lora")
GENERATION_TASK = "e2e_zero_shot"


def load_task(name: str, overrides: dict | None = None) -> dict:
    import promptdsl
    return promptdsl.load(str(TASK_FILE), task=name, overrides=overrides)


def model_and_split(task: dict, split: str, device):
    """(PromptModel with its methods applied, EncodedSplit of `split`) on `device`."""
    from promptdsl.train.build import build_model
    from promptdsl.train.splits import EncodedSplit, read_split
    model = build_model(task).to(device)
    return model, EncodedSplit(split, model, read_split(task, split))


# ---------------------------------------------------------------- (a) training step

def raw_labels(target_labels: torch.Tensor) -> torch.Tensor:
    """transformers' `labels` from the batch's `target_labels`: the model shifts its labels by
    one itself, so the token predicted at position t is stored at t + 1."""
    labels = torch.full_like(target_labels, IGNORE)
    labels[:, 1:] = target_labels[:, :-1]
    return labels


def raw_loss(model, batch: dict) -> torch.Tensor:
    """The raw transformers model's own loss on the batch (what a user writes by hand)."""
    hf = model.hf_model()
    kwargs = {"attention_mask": batch["attention_mask"],
              "position_ids": position_ids(batch["attention_mask"]),   # left padding
              "labels": raw_labels(batch["target_labels"])}
    if model.soft_prompt.n_soft:
        # the same input, soft tokens spliced in: backward reaches them through every layer,
        # as it does through the PromptModel
        kwargs["inputs_embeds"] = model.input_embeddings(batch)
    else:
        kwargs["input_ids"] = batch["input_ids"]
    return hf(**kwargs).loss


def training_batches(split, config: dict, count: int, device) -> list:
    """The first `count` batches of the first epoch, as the TrainingLoop collates them."""
    from promptdsl.model.rows import to_device
    batches = split.epoch_batches(int(config["batch_size"]), int(config["seed"]), 0)[:count]
    return [to_device(batch, device) for _, batch in split.collated(batches)]


def target_tokens(batches: list) -> int:
    return sum(int((b["target_labels"] != IGNORE).sum()) for b in batches)


def training_figure(ctx, name: str, count: int, repeats: int) -> dict:
    from promptdsl.model.rows import autocast_context
    from promptdsl.train.trainer import default_loss
    task = load_task(name, {"data.train_rows": str(count * 16)})
    model, split = model_and_split(task, "train", ctx.device)
    batches = training_batches(split, task["train"], count, ctx.device)

    def step(loss_of):
        def run():
            for batch in batches:
                model.zero_grad(set_to_none=True)
                with autocast_context(ctx.device, ctx.autocast_dtype):
                    loss = loss_of(batch)
                loss.backward()
        return run

    # the same loss from both (dropout off), or the comparison would mean nothing
    model.eval()
    with torch.no_grad(), autocast_context(ctx.device, ctx.autocast_dtype):
        ours_loss = float(default_loss(model, batches[0], None))
        raw = float(raw_loss(model, batches[0]))
    model.train()
    times = measure.interleaved({"ours": step(lambda b: default_loss(model, b, None)),
                                 "raw": step(lambda b: raw_loss(model, b))},
                                ctx.device, repeats)
    tokens = target_tokens(batches)
    return ctx.emit({
        "figure": "generation_training", "task": name,
        "method": task["methods"][0]["name"], "batches": count,
        "batch_size": int(task["train"]["batch_size"]),
        "shapes": [list(b["input_ids"].shape) for b in batches],
        "target_tokens": tokens,
        "all_tokens": sum(int(b["attention_mask"].sum()) for b in batches),
        "repeats": repeats, "ours_s": round(times["ours"], 3), "raw_s": round(times["raw"], 3),
        "ours_target_tokens_per_s": round(tokens / times["ours"], 1),
        "raw_target_tokens_per_s": round(tokens / times["raw"], 1),
        "ratio_ours_over_raw": round(times["ours"] / times["raw"], 3),
        "first_batch_loss": {"ours": round(ours_loss, 5), "raw": round(raw, 5)},
        "goal": "<= 1.05"})


# ---------------------------------------------------------------- (b) batched generation

def generation_figure(ctx, test_rows: int, batch_size: int, repeats: int,
                      checkpoint=None) -> dict:
    from promptdsl.model.generation import generate_texts
    from promptdsl.train.splits import EncodedSplit, read_split
    if checkpoint:
        from promptdsl.train.checkpoint import load_checkpoint
        model = load_checkpoint(checkpoint, ctx.device)
        task = {**model.task, "data": {**model.task["data"], "test_rows": test_rows}}
        split = EncodedSplit("test", model, read_split(task, "test"))
    else:
        task = load_task(GENERATION_TASK, {"data.test_rows": str(test_rows)})
        model, split = model_and_split(task, "test", ctx.device)
    # one row per input (generate_texts would generate each distinct input once anyway)
    rows = split.features.without_targets()
    features = rows.select(rows.input_groups()[1])
    outputs = {}

    def run(size):
        def go():
            outputs[size] = generate_texts(model, features, batch_size=size,
                                           autocast=ctx.autocast_dtype)
        return go

    generate_texts(model, features.select([0]), batch_size=1)     # warm up once, briefly
    times = measure.interleaved({"batched": run(batch_size), "one_at_a_time": run(1)},
                                ctx.device, repeats, warmup=0)
    batched, single = outputs[batch_size], outputs[1]
    # the tokens of the texts kept (cut at the stop string), one input at a time
    kept = sum(len(model.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in single)
    return ctx.emit({
        "figure": "generation_batched", "task": task["name"],
        "checkpoint": str(checkpoint) if checkpoint else None, "inputs": len(features),
        "batch_size": batch_size,
        "max_new_tokens": task["generate"]["max_new_tokens"], "greedy": True,
        "output_tokens": kept, "repeats": repeats,
        "batched_s": round(times["batched"], 3),
        "one_at_a_time_s": round(times["one_at_a_time"], 3),
        "batched_output_tokens_per_s": round(kept / times["batched"], 1),
        "one_at_a_time_output_tokens_per_s": round(kept / times["one_at_a_time"], 1),
        "speedup": round(times["one_at_a_time"] / times["batched"], 2),
        "same_text": f"{sum(a == b for a, b in zip(batched, single))}/{len(single)}",
        "goal": ">= 5"})


# ---------------------------------------------------------------- command

def parser() -> argparse.ArgumentParser:
    p = benchmark_parser("generation", "generation figures on E2E (benchmarks/NOTES.md)",
                         "few batches, inputs and repeats")
    p.add_argument("--figures", default="training,generate",
                   help="which figures to run (default: training,generate)")
    p.add_argument("--batch-size", type=int, default=32, help="generate: the batched size")
    p.add_argument("--checkpoint", default=None,
                   help="generate: a trained run (or checkpoint folder) instead of zero-shot")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    ctx = Context(quick=args.quick, device_name=args.device, threads=args.threads)
    figures = chosen_figures(args.figures, ("training", "generate"))
    start(ctx)
    if "training" in figures:
        for name in TRAINING_TASKS:
            training_figure(ctx, name, count=1 if ctx.quick else 4,
                            repeats=2 if ctx.quick else 5)
    if "generate" in figures:
        # the test rows of the file's first 4 or 32 inputs (take: first keeps them whole)
        generation_figure(ctx, test_rows=14 if ctx.quick else 264, batch_size=args.batch_size,
                          repeats=1 if ctx.quick else 3, checkpoint=args.checkpoint)
    print(json.dumps({"done": [r["figure"] for r in ctx.records]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The floor: the raw transformers model's forward+backward (train) and forward (eval) on one
padded batch, median of many steps. Nothing can train a cloze faster than this.

`floor_steps` builds the two step functions for any model and batch; figure 1 (overhead.py) uses
it on the PromptModel's own backbone and tensors. Run alone it measures the three models on the
hand-written batch:  python -m benchmarks.floor [--quick]
"""
from __future__ import annotations

import torch

from . import handwritten, measure, models


def floor_steps(model, batch: dict, family: str, word_ids, device, autocast_dtype,
                input_grad: bool):
    """(train_step, eval_step) closures. `input_grad`: the input embeddings require grad, as they
    do when soft tokens are trained (backward then runs through every layer even when the model's
    weights are frozen)."""
    embed = model.get_input_embeddings()

    def inputs_embeds():
        if not input_grad:
            return None
        out = embed(batch["input_ids"])   # with grad into the embedding matrix when it trains
        return out if out.requires_grad else out.detach().requires_grad_()

    def train_step():
        model.zero_grad(set_to_none=True)
        with measure.autocast(device, autocast_dtype):
            loss = handwritten.loss(model, batch, family, word_ids, inputs_embeds())
        loss.backward()

    @torch.no_grad()
    def eval_step():
        with measure.autocast(device, autocast_dtype):
            handwritten.label_logits(model, batch, family, word_ids)

    return train_step, eval_step


def tokens(batch) -> int:
    return int(batch["attention_mask"].sum())


def step_record(figure: str, seconds: float, batch: dict, **fields) -> dict:
    n, t = batch["input_ids"].shape
    return {"figure": figure, **fields, "batch": [n, t], "step_ms": round(seconds * 1000, 2),
            "examples_per_s": round(n / seconds, 1),
            "tokens_per_s": round(tokens(batch) / seconds, 1)}


def run(ctx) -> None:
    train, _ = ctx.splits()
    for name, size in ctx.sizes().items():
        model, tokenizer = models.load(ctx.model_dir(size), size)
        model.to(ctx.device)
        b = ctx.batch_size(size)
        batch = {k: v.to(ctx.device) for k, v in handwritten.encode(
            tokenizer, size.family, train.sentences[:b], train.labels[:b]).items()}
        word_ids = handwritten.label_word_ids(tokenizer)
        for regime, input_grad, trainable in (("finetune", False, True),
                                              ("frozen", True, False)):
            model.requires_grad_(trainable)
            train_step, eval_step = floor_steps(model, batch, size.family, word_ids, ctx.device,
                                                ctx.autocast_dtype, input_grad)
            measure.reset_peak(ctx.device)
            seconds = measure.interleaved({"train": train_step}, ctx.device,
                                          ctx.steps(size))["train"]
            ctx.emit(step_record("floor", seconds, batch, model=name, mode="train",
                                 regime=regime, **measure.peak_memory(ctx.device)))
        seconds = measure.interleaved({"eval": eval_step}, ctx.device,
                                      ctx.steps(size))["eval"]
        ctx.emit(step_record("floor", seconds, batch, model=name, mode="eval", regime="-"))
        del model


def main(argv=None) -> None:
    from .run import parse_args
    ctx = parse_args(argv)
    run(ctx)


if __name__ == "__main__":
    main()

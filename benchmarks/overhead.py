"""Figure 1: overhead vs the floor, for each method and each model family.

For each (model, method): the task is compiled by promptdsl (front end + compile + method), one
batch is rendered by promptdsl.data, and on those identical padded tensors we time, interleaved
in one process (median of `ctx.steps(size)` steps):
  ours      PromptModel forward (+ loss.backward() for train)
  floor     the raw transformers model's own call on the same input_ids / attention_mask: the
            LM head over every position for a masked LM (what `model(**batch)` does), the last
            position for a causal LM (`logits_to_keep=1`), then the label words at the mask
  at_mask   (masked LMs) the raw model with its LM head applied at the mask position only --
            the tightest hand-written floor, and what PromptModel itself does
The floor runs the PromptModel's own backbone, so modules a method inserted into it (LoRA,
adapters, prefix attention) are in both; what differs is everything promptdsl adds around it.
With soft tokens the floor's input embeddings require grad (backward must reach them).

    python -m benchmarks.overhead [--quick] [--models bert-base] [--methods lora,prefix]
"""
from __future__ import annotations

import torch

from . import floor, measure, sst2, taskfile

METHODS = ("finetune", "prompt_tuning", "ptuning", "prefix", "adapter", "lora")
# a field, soft tokens and a mask (the causal mask ends the template)
TEMPLATES = {"mlm": "<soft*4> {sentence} It was [MASK] .", "causal": "<soft*4> {sentence} It was [MASK]"}


def compile_model(ctx, size, method: str):
    import promptdsl
    from promptdsl.train.build import build_model
    folder = ctx.data_folder()
    path = taskfile.write(ctx.workdir / f"overhead-{size.name}-{method}.prompt",
                          model_dir=ctx.model_dir(size), train=folder / "train.tsv",
                          dev=folder / "dev.tsv", template=TEMPLATES[size.family],
                          method=method, batch_size=ctx.batch_size(size))
    return build_model(promptdsl.load(path))


def at_mask_hook(model, positions):
    """A forward hook on the base model that keeps the mask position's hidden state only, so
    the LM head projects one position (masked LMs)."""
    base = model.base_model

    def keep_mask_position(_module, _args, output):
        hidden = output[0]
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        output["last_hidden_state"] = hidden[rows, positions].unsqueeze(1)
        return output
    return base.register_forward_hook(keep_mask_position)


def steps_for(ctx, model, batch, size, word_ids):
    """{candidate: (train_step, eval_step)} on the identical batch."""
    hf = model.hf_model() if hasattr(model, "hf_model") else model.backbone
    input_grad = model.soft_prompt.n_soft > 0

    def ours_train():
        model.zero_grad(set_to_none=True)
        with measure.autocast(ctx.device, ctx.autocast_dtype):
            loss = model(batch)["loss"]
        loss.backward()

    @torch.no_grad()
    def ours_eval():
        with measure.autocast(ctx.device, ctx.autocast_dtype):
            model(batch)

    out = {"ours": (ours_train, ours_eval),
           "floor": floor.floor_steps(model.backbone, batch, size.family, word_ids, ctx.device,
                                      ctx.autocast_dtype, input_grad)}
    if size.family == "mlm":
        masked = dict(batch, mask_pos=torch.zeros_like(batch["mask_pos"]))
        train_masked, eval_masked = floor.floor_steps(model.backbone, masked, size.family,
                                                      word_ids, ctx.device, ctx.autocast_dtype,
                                                      input_grad)

        def hooked(step):
            def run():
                handle = at_mask_hook(hf, batch["mask_pos"])
                try:
                    step()
                finally:
                    handle.remove()
            return run
        out["at_mask"] = (hooked(train_masked), hooked(eval_masked))
    return out


def word_ids_of(model) -> torch.Tensor:
    from .handwritten import label_word_ids
    return label_word_ids(model.tokenizer)


def measure_one(ctx, size, method: str) -> None:
    train, _ = ctx.splits()
    model = compile_model(ctx, size, method).to(ctx.device)
    b = ctx.batch_size(size)
    rows = [{"sentence": s, "label": y} for s, y in zip(train.sentences[:b], train.labels[:b])]
    batch = {k: v.to(ctx.device) for k, v in model.collate(model.encode(rows, labels=True)).items()}
    candidates = steps_for(ctx, model, batch, size, word_ids_of(model))
    model.train()
    train_times = measure.interleaved({k: v[0] for k, v in candidates.items()}, ctx.device,
                                      ctx.steps(size))
    model.eval()
    eval_times = measure.interleaved({k: v[1] for k, v in candidates.items()}, ctx.device,
                                     ctx.steps(size))
    for mode, times in (("train", train_times), ("eval", eval_times)):
        record = floor.step_record("overhead", times["ours"], batch, model=size.name,
                                   method=method, mode=mode)
        record["floor_ms"] = round(times["floor"] * 1000, 2)
        record["ratio_vs_floor"] = round(times["ours"] / times["floor"], 3)
        if "at_mask" in times:
            record["at_mask_ms"] = round(times["at_mask"] * 1000, 2)
            record["ratio_vs_at_mask"] = round(times["ours"] / times["at_mask"], 3)
        record["goal"] = "<= 1.05"
        ctx.emit(record)


def run(ctx, methods=METHODS) -> None:
    for size in ctx.sizes().values():
        for method in methods:
            try:
                measure_one(ctx, size, method)
            except Exception as exc:  # one broken method must not hide the other figures
                ctx.emit({"figure": "overhead", "model": size.name, "method": method,
                          "error": f"{type(exc).__name__}: {exc}"[:300]})


def main(argv=None) -> None:
    from .run import parse_args
    ctx, args = parse_args(argv, with_args=True)
    run(ctx, tuple(args.methods.split(",")) if args.methods else METHODS)


if __name__ == "__main__":
    main()

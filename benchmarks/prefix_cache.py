"""Shared-computation figures (issue 12) with SmolLM2-135M-Instruct (its real weights) on SST-2,
from the tasks of tasks/sst2_shared.prompt (soft tokens after the review) and
tasks/sst2_icl.prompt. Each ratio compares candidates run side by side in one process
(interleaved repeats, medians: benchmarks.measure.interleaved), and each checks that the cached
path gives the uncached path's results:

  epoch    one prompt-tuning run (the first sweep point, 32 rows, batch 8): seconds per epoch
           after the first, prefix cache on (the default) vs `train.prefix_cache: false`, the
           TrainingLoop's step (`default_loss`, `model.backward`, AdamW step) on two models
           built alike. Checked: the losses of every step and the trained soft prompts agree.
           Goal: cached >= 2x faster.
  icl      evaluation of the same dev rows with k fixed demonstrations per label
           (`sst2_icl_fixed`) vs without demonstrations (`sst2_no_demos`), cache on; each
           timed evaluation starts from an empty cache (a run evaluates once); rows are not
           cut (`train.max_length: 1024`). Also both with the cache off, for context.
           Checked: max |Δlogit| cached vs uncached on one model. Goal: with / without <= 1.3.
  sweep    the 5-point sweep of `sst2_shared_prompt_tuning` trained together
           (batched_sweep.train_together, what `promptc train` does) vs ONE point trained as
           today (`train.prefix_cache: false`, alone; train_task); also the sweep one point
           after another with the cache on (what `--sequential` does), for context. Wall
           time of each call (model loading included). Checked: per-point accuracies of
           together vs sequential within 0.5 points. Goal: together / one point <= 1.5.
  mixture  the 5-seed sweeps of `sst2_shared_prompt_tuning` and `sst2_shared_mixture`, trained
           together as `promptc train` does: dev accuracy mean ± std and wall time of each
           (a result, not a ratio).

    python -m benchmarks.prefix_cache [--quick] [--threads N] [--figures epoch,icl,sweep,mixture]
"""
from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import torch

from . import measure
from .context import Context, benchmark_parser, chosen_figures, start

TASKS = Path(__file__).resolve().parent.parent / "tasks"
SHARED_FILE = TASKS / "sst2_shared.prompt"
ICL_FILE = TASKS / "sst2_icl.prompt"
PROMPT_TUNING = "sst2_shared_prompt_tuning"
MIXTURE = "sst2_shared_mixture"
FIGURES = ("epoch", "icl", "sweep", "mixture")


def load_task(file: Path, name: str, overrides: dict | None = None) -> dict:
    import promptdsl
    return promptdsl.load(str(file), task=name, overrides=overrides)


def sweep_runs(name: str, overrides: dict) -> list:
    """expand_sweep's (point, point name, task) triples of a sweep of tasks/sst2_shared.prompt."""
    from promptdsl.ir.sweep import expand_sweep
    return expand_sweep(load_task(SHARED_FILE, name, overrides))


def uncached(task: dict) -> dict:
    """The task with `train.prefix_cache: false`: today's path."""
    task = copy.deepcopy(task)
    task["train"]["prefix_cache"] = False
    return task


def set_cache(model, on: bool) -> None:
    """Switch one built model between the cached and the plain path (plan() reads the task)."""
    model.task["train"]["prefix_cache"] = on


def scratch(ctx, name: str) -> Path:
    """A fresh, empty run folder in the command's scratch folder (removed when it ends)."""
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=ctx.scratch_root)) / "run"


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


# ---------------------------------------------------------------- epoch

class EpochRunner:
    """One model trained epoch by epoch with the TrainingLoop's batches, loss and
    `model.backward`, and an AdamW step (no clipping or schedule: timing needs epochs one at a
    time, and both candidates do the same work)."""

    def __init__(self, ctx, task: dict):
        from promptdsl.train.build import build_model
        from promptdsl.train.seeding import seed_everything
        from promptdsl.train.splits import EncodedSplit, few_shot, read_split
        from promptdsl.train.trainer import make_optimizer
        self.ctx, self.task, self.config = ctx, task, task["train"]
        seed_everything(int(self.config["seed"]))      # the same soft-prompt draws for both
        self.model = build_model(task).to(ctx.device)
        self.split = EncodedSplit("train", self.model, few_shot(task, read_split(task, "train")))
        self.optimizer = make_optimizer(self.model, self.config, ctx.device)
        self.epoch, self.losses = 0, []

    def run_epoch(self) -> None:
        from promptdsl.model.rows import autocast_context, to_device
        from promptdsl.train.trainer import default_loss
        model, ctx = self.model, self.ctx
        model.train()
        batches = self.split.epoch_batches(int(self.config["batch_size"]),
                                           int(self.config["seed"]), self.epoch)
        for _, batch in self.split.collated(batches):
            batch = to_device(batch, ctx.device)
            with autocast_context(ctx.device, ctx.autocast_dtype):
                loss = default_loss(model, batch, None)
            model.backward(loss)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.losses.append(float(loss.detach()))
        self.epoch += 1

    def soft_table(self) -> torch.Tensor:
        return self.model.soft_prompt.weight.detach()


def epoch_figure(ctx, epochs: int, shots: int) -> dict:
    from promptdsl.model.prefix_cache import stats_of
    task = sweep_runs(PROMPT_TUNING, {"data.shots": str(shots)})[0][2]
    runners = {"cached": EpochRunner(ctx, task), "uncached": EpochRunner(ctx, uncached(task))}
    if runners["cached"].model.cache_plan().enabled is not True:
        raise SystemExit(f"the prefix cache is off: {runners['cached'].model.cache_plan().reason}")
    start_equal = max_abs(runners["cached"].soft_table(), runners["uncached"].soft_table())
    first = {name: measure.timed(r.run_epoch, ctx.device) for name, r in runners.items()}
    times = measure.interleaved({name: r.run_epoch for name, r in runners.items()},
                                ctx.device, epochs - 1, warmup=0)
    cached, plain = runners["cached"], runners["uncached"]
    batch = next(iter(cached.split.collated(cached.split.epoch_batches(8, 0, 0))))[1]
    return ctx.emit({
        "figure": "prefix_cache_epoch", "task": task["name"],
        "template": task["template"]["text"], "train_rows": len(cached.split.features),
        "batch_size": int(task["train"]["batch_size"]), "epochs": epochs,
        "first_batch_shape": list(batch["input_ids"].shape),
        "first_epoch_s": {k: round(v, 3) for k, v in first.items()},
        "cached_epoch_s": round(times["cached"], 3),
        "uncached_epoch_s": round(times["uncached"], 3),
        "speedup": round(times["uncached"] / times["cached"], 2),
        "initial_soft_prompt_max_abs_diff": start_equal,
        "loss_max_abs_diff": max(abs(a - b) for a, b in zip(cached.losses, plain.losses)),
        "trained_soft_prompt_max_abs_diff": max_abs(cached.soft_table(), plain.soft_table()),
        "steps": len(cached.losses), "cache": stats_of(cached.model),
        "uncached_cache": stats_of(plain.model),      # None: that model never used one
        "goal": ">= 2"})


# ---------------------------------------------------------------- icl

def icl_model(ctx, name: str, overrides: dict):
    """(model with its demonstrations attached, encoded test split) of a task of sst2_icl."""
    from promptdsl.train.build import build_model
    from promptdsl.train.prepare import prepare_model
    from promptdsl.train.splits import EncodedSplit, few_shot, read_split
    task = load_task(ICL_FILE, name, overrides)
    model = build_model(task).to(ctx.device).eval()
    prepare_model(model, train=few_shot(task, read_split(task, "train")), echo=lambda _: None)
    return model, EncodedSplit("test", model, read_split(task, "test"))


COUNTERS = ("hits", "misses", "evictions", "computed_tokens", "reused_tokens")


def one_pass(before: dict, after: dict) -> dict:
    """The store's stats with its counters (which add up over a store's life) for one pass."""
    return {k: after[k] - before[k] if k in COUNTERS else v for k, v in after.items()}


def accuracy_percent(logits: torch.Tensor, split) -> float:
    gold = torch.as_tensor(split.label_indices)
    return round(100 * float((logits.argmax(-1) == gold).float().mean()), 2)


def icl_figure(ctx, test_rows: int, demonstrations: int, repeats: int) -> dict:
    from promptdsl.model.prefix_cache import store_of
    from promptdsl.model.rows import label_scores
    # room for every row whole: a row cut to max_length loses part of its demonstrations,
    # which are then no longer the same before every query
    rows = {"data.test_rows": str(test_rows), "train.max_length": "1024"}
    icl = icl_model(ctx, "sst2_icl_fixed", {**rows, "data.demonstrations": str(demonstrations)})
    plain = icl_model(ctx, "sst2_no_demos", rows)
    scores, stats = {}, {}

    def evaluate(name, pair, cache_on):
        model, split = pair

        def run():
            set_cache(model, cache_on)
            store_of(model).clear()        # a run evaluates its rows once: start empty
            before = store_of(model).stats()
            scores[name] = label_scores(model, split.features,
                                        batch_size=int(model.task["train"]["eval_batch_size"]),
                                        autocast=ctx.autocast_dtype)
            stats[name] = one_pass(before, store_of(model).stats())
        return run

    candidates = {"icl_cached": evaluate("icl_cached", icl, True),
                  "plain_cached": evaluate("plain_cached", plain, True),
                  "icl_uncached": evaluate("icl_uncached", icl, False),
                  "plain_uncached": evaluate("plain_uncached", plain, False)}
    times = measure.interleaved(candidates, ctx.device, repeats, warmup=0)
    accuracy = {name: accuracy_percent(logits, (icl if name.startswith("icl") else plain)[1])
                for name, logits in scores.items()}
    tokens = {name: round(float(pair[1].features.lengths.mean()), 1)
              for name, pair in (("icl", icl), ("plain", plain))}
    return ctx.emit({
        "figure": "prefix_cache_icl", "task": "sst2_icl_fixed vs sst2_no_demos",
        "test_rows": len(icl[1].features), "demonstrations_per_label": demonstrations,
        "repeats": repeats, "mean_row_tokens": tokens,
        **{f"{name}_s": round(t, 3) for name, t in times.items()},
        "ratio_cached": round(times["icl_cached"] / times["plain_cached"], 3),
        "ratio_icl_cached_over_plain_uncached":
            round(times["icl_cached"] / times["plain_uncached"], 3),
        "ratio_uncached": round(times["icl_uncached"] / times["plain_uncached"], 3),
        "icl_logit_max_abs_diff": max_abs(scores["icl_cached"], scores["icl_uncached"]),
        "plain_logit_max_abs_diff": max_abs(scores["plain_cached"], scores["plain_uncached"]),
        "accuracy": accuracy, "icl_cache": stats["icl_cached"], "goal": "<= 1.3"})


# ---------------------------------------------------------------- sweep

def quiet(_text: str) -> None:
    pass


def train_sweep_together(ctx, runs: list, name: str) -> tuple:
    """(summaries, together info) of the sweep's points trained together, as `promptc train`."""
    from promptdsl.train.batched_sweep import sharing_reason, train_together
    reason = sharing_reason(runs)
    if reason is not None:
        raise SystemExit(f"{name}: the points cannot train together: {reason}")
    return train_together(runs, scratch(ctx, name), ctx.device.type, echo=quiet)


def train_one(ctx, task: dict, name: str) -> dict:
    from promptdsl.train.runner import train_task
    return train_task(task, out=scratch(ctx, name), device=ctx.device.type, progress=False,
                      echo=quiet)


def accuracy_of(summary: dict) -> float:
    return round(100 * summary["test"]["accuracy"], 2)


def sweep_figure(ctx, overrides: dict, repeats: int) -> dict:
    runs = sweep_runs(PROMPT_TUNING, overrides)
    one = uncached(runs[0][2])
    results = {}

    def together():
        results["together"] = train_sweep_together(ctx, runs, "together")[0]

    def single():
        results["one_point"] = [train_one(ctx, one, "one")]

    def sequential():
        results["sequential"] = [train_one(ctx, task, f"seq-{point}")
                                 for _, point, task in runs]

    times = measure.interleaved({"together": together, "one_point_uncached": single,
                                 "sequential_cached": sequential},
                                ctx.device, repeats, warmup=0)
    per_point = {point: {"together": accuracy_of(a), "sequential": accuracy_of(b)}
                 for (_, point, _), a, b in zip(runs, results["together"],
                                                results["sequential"])}
    gap = max(abs(v["together"] - v["sequential"]) for v in per_point.values())
    return ctx.emit({
        "figure": "prefix_cache_sweep", "task": PROMPT_TUNING, "points": len(runs),
        "overrides": overrides, "repeats": repeats,
        **{f"{name}_s": round(t, 2) for name, t in times.items()},
        "ratio_together_over_one_point": round(times["together"] / times["one_point_uncached"],
                                               3),
        "ratio_sequential_over_one_point":
            round(times["sequential_cached"] / times["one_point_uncached"], 3),
        "one_point_accuracy": accuracy_of(results["one_point"][0]),
        "per_point_accuracy": per_point, "max_accuracy_gap_points": round(gap, 2),
        "accuracies_agree": gap <= 0.5,
        "peak_rss_mb": round(measure.peak_rss_bytes() / 2 ** 20, 1),
        "goal": "<= 1.5"})


# ---------------------------------------------------------------- mixture

def mixture_figure(ctx, overrides: dict) -> list:
    from promptdsl.train.sweep import aggregate
    out = []
    for name in (PROMPT_TUNING, MIXTURE):
        runs = sweep_runs(name, overrides)
        started = time.perf_counter()
        summaries, joined = train_sweep_together(ctx, runs, name)
        wall = time.perf_counter() - started
        accuracy = aggregate(summaries, "test")["accuracy"]
        out.append(ctx.emit({
            "figure": "prefix_cache_mixture", "task": name, "points": len(runs),
            "overrides": overrides,
            "method": runs[0][2]["methods"][0],
            "accuracy_mean": round(100 * accuracy["mean"], 2),
            "accuracy_std": round(100 * accuracy["std"], 2),
            "per_point_accuracy": {point: accuracy_of(s)
                                   for (_, point, _), s in zip(runs, summaries)},
            "wall_s": round(wall, 1), "rounds": joined["rounds"]}))
    return out


# ---------------------------------------------------------------- command

def parser() -> argparse.ArgumentParser:
    p = benchmark_parser("prefix_cache", "shared-computation figures (benchmarks/NOTES.md)",
                         "few rows, epochs and repeats")
    p.add_argument("--figures", default="epoch,icl,sweep",
                   help=f"which figures to run, of {','.join(FIGURES)} (default: "
                        "epoch,icl,sweep; mixture is long: run it on its own)")
    p.add_argument("--demonstrations", type=int, default=1,
                   help="icl: fixed demonstrations per label (default: the task file's 1)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    ctx = Context(quick=args.quick, device_name=args.device, threads=args.threads)
    figures = chosen_figures(args.figures, FIGURES)
    start(ctx)
    with tempfile.TemporaryDirectory(prefix="prefix_cache-", dir=ctx.workdir) as root:
        ctx.scratch_root = root
        run_figures(ctx, figures, args.demonstrations)
    print(json.dumps({"done": [r["figure"] for r in ctx.records]}))
    return 0


def run_figures(ctx, figures: list, demonstrations: int) -> None:
    quick = ctx.quick
    if "epoch" in figures:
        epoch_figure(ctx, epochs=3 if quick else 10, shots=4 if quick else 16)
    if "icl" in figures:
        icl_figure(ctx, test_rows=16 if quick else 128, demonstrations=demonstrations,
                   repeats=1 if quick else 3)
    # the sweeps: the task file's settings; --quick: 4 rows per label, 2 epochs, 16 dev rows
    small = {"data.shots": "4", "train.epochs": "2", "data.test_rows": "16"} if quick else {}
    if "sweep" in figures:
        sweep_figure(ctx, {**small} if quick else {"data.test_rows": "200"},
                     repeats=1 if quick else 2)
    if "mixture" in figures:
        mixture_figure(ctx, small)


if __name__ == "__main__":
    raise SystemExit(main())

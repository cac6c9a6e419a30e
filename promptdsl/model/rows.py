"""The one way to run a model over rows: encode → length-bucketed batches → device → `fn(batch)`
→ outputs back in the rows' order. Training-time evaluation, the prepare phase (calibration,
KPT refinement), prediction, ensembles and methods with their own loop all go through
`map_rows`, so eval mode, no-grad, autocast and the progress bar behave the same everywhere.
"""
from __future__ import annotations

import contextlib

import torch
from tqdm.auto import tqdm


def autocast_context(device: torch.device, dtype):
    """torch.autocast to `dtype` on `device`'s type, or nothing for None (plain fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def to_device(batch: dict, device) -> dict:
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
            for k, v in batch.items()}


def features_of(model, rows, labels: bool | None = False):
    """`rows` as Features: already encoded Features pass through; anything else is encoded
    through the model's template (a Table, row dicts, or texts for a one-field template)."""
    from ..data.features import Features
    if isinstance(rows, Features):
        return rows
    return model.encode(rows, labels=labels)


def map_rows(model, rows, fn, *, batch_size: int | None = None, autocast=None,
             labels: bool | None = False, progress: bool = False, desc: str = "eval"):
    """`fn(batch)` over every row, results in row order.

    `fn` gets a collated batch on the model's device (eval mode, no grad, `autocast` dtype or
    None) and returns a tensor whose first dimension is the batch, or a list with one item per
    row. The result is that tensor concatenated on the CPU in row order, or the list in row
    order. The model's train/eval mode is restored however `fn` ends.

    Under several processes (promptdsl.train.distributed) rank r runs batches r, r+size, … and
    every rank returns the whole result, as one process would: a collective call, so every rank
    must call it with the same rows."""
    from ..data.api import PromptDataset
    from ..train.distributed import world
    features = features_of(model, rows, labels)
    size = int(batch_size or model.task["train"]["eval_batch_size"])
    device = model.device
    dataset = PromptDataset(features)
    ranks = world()
    shared = ranks.active
    total = dataset.num_eval_batches(size)     # the bar passes every batch, run or skipped
    was_training = model.training
    model.eval()
    order, outputs = [], []
    try:
        with torch.no_grad():
            batches = tqdm(dataset.eval_batches(size), total=total, desc=desc, leave=False,
                           disable=not progress or not ranks.is_main, unit="batch")
            for number, (indices, batch) in enumerate(batches):
                if shared and not ranks.owns(number):
                    continue    # another rank's batch (collating it is cheap; running it is not)
                with autocast_context(device, autocast):
                    out = fn(to_device(batch, device))
                outputs.append(out.detach().float().cpu() if isinstance(out, torch.Tensor)
                               else list(out))
                order.extend(indices)
    finally:
        model.train(was_training)
    if shared:
        every = ranks.gather((order, outputs))
        order = [i for rank_order, _ in every for i in rank_order]
        outputs = [chunk for _, rank_outputs in every for chunk in rank_outputs]
    return _in_row_order(order, outputs)


def _in_row_order(order: list, outputs: list):
    if not outputs:
        return torch.empty(0)
    if isinstance(outputs[0], torch.Tensor):
        flat = torch.cat(outputs)
        restored = torch.empty_like(flat)
        restored[torch.as_tensor(order, dtype=torch.long)] = flat
        return restored
    restored = [None] * len(order)
    for i, value in zip(order, (v for chunk in outputs for v in chunk)):
        restored[i] = value
    return restored


def predict_labels(model, texts_or_rows, batch_size: int | None = None) -> list:
    """The label values a model (or an ensemble) predicts for plain texts (one-field templates)
    or row dicts, through `score_rows`."""
    if isinstance(texts_or_rows, (str, dict)):
        texts_or_rows = [texts_or_rows]
    scores = score_rows(model, texts_or_rows, batch_size=batch_size)[0]
    return [model.labels[i] for i in scores.argmax(-1).tolist()]


def label_scores(model, rows, **kwargs) -> torch.Tensor:
    """[N, L] label scores of `rows` through the model's verbalizer, in row order."""
    def scores(batch):
        batch.pop("labels", None)
        return model(batch)["logits"]
    return map_rows(model, rows, scores, **kwargs)


def score_rows(model, rows, *, features=None, **kwargs) -> tuple:
    """(label scores [N, L], extra per-row columns) for `rows`, the way the model scores them:
    through its verbalizer, or through the `row_scorer` a method installed (chain of thought
    generates a rationale first; an ensemble averages its members).

    `row_scorer(rows, **kwargs) -> (scores, {column: [value per row]})`; `features` are the
    rows already encoded through the model's own template (used by the plain path)."""
    scorer = getattr(model, "row_scorer", None)
    if scorer is not None:
        return scorer(rows, **kwargs)
    return label_scores(model, rows if features is None else features, **kwargs), {}

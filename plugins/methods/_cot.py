"""Zero-shot chain of thought (Kojima et al. 2022) for causal models, in two stages:

1. the template up to its [MASK], then the reasoning trigger ("Let's think step by step."):
   the model generates a rationale (greedy, `max_new_tokens`);
2. the same prefix, the trigger, the rationale, then the answer trigger ("Therefore, the answer
   is") and the [MASK]: the answer is read there through the task's verbalizer.

Both stages render through the data path with extra template pieces, so soft tokens, filters and
truncation behave as in the task's own template (the rationale is shortenable).
"""
from __future__ import annotations

import torch

from promptdsl.data.render import Renderer
from promptdsl.errors import DataError, ModelError
from promptdsl.families import CAUSAL
from promptdsl.train.metrics import compute_metrics
from promptdsl.train.prepare import prepare_model
from promptdsl.train.rundir import write_tsv

RATIONALE = "__cot_rationale"


def cot_options(task: dict) -> dict:
    for method in task.get("methods") or []:
        if method["name"] == "cot":
            return dict(method.get("options") or {})
    return {}


def stage_pieces(pieces: list, trigger: str, answer_trigger: str | None = None) -> list:
    """Stage one (no `answer_trigger`): prefix + trigger + the mask (a causal model reads the
    next token there, so generation continues from it). Stage two: prefix + trigger +
    rationale + answer trigger + mask."""
    at = next(i for i, p in enumerate(pieces) if p["type"] == "mask")
    prefix, mask = [dict(p) for p in pieces[:at]], dict(pieces[at])
    if prefix and prefix[-1]["type"] == "text":
        prefix[-1] = {**prefix[-1], "text": prefix[-1]["text"].rstrip() + " "}
    out = prefix + [{"type": "text", "text": trigger}]
    if answer_trigger is None:
        return out + [mask]
    return out + [{"type": "text", "text": " "},
                  {"type": "field", "name": RATIONALE, "filters": [], "shortenable": True},
                  {"type": "text", "text": " " + answer_trigger.strip() + " "}, mask]


def renderer(model, pieces: list) -> Renderer:
    base = model.renderer()
    return Renderer(model.tokenizer, pieces, model.family, max_length=base.max_length,
                    labels=base.labels, label_column=base.label_column,
                    mask_name=base.mask_name)


@torch.no_grad()
def generate_rationales(model, rows: list, options: dict, batch_size: int) -> list:
    from promptdsl.data.batching import eval_batches
    features = renderer(model, stage_pieces(model.template.pieces, options["trigger"])).encode(
        rows)
    pad = model.tokenizer.pad_token_id
    if pad is None:
        pad = model.tokenizer.eos_token_id
    out = [""] * len(rows)
    model.eval()
    for indices in eval_batches(features.lengths, batch_size):
        batch = {k: v.to(model.device) for k, v in model.collate(features, indices).items()}
        generated = model.hf_model().generate(
            inputs_embeds=model.input_embeddings(batch), attention_mask=batch["attention_mask"],
            max_new_tokens=int(options["max_new_tokens"]), do_sample=False,
            pad_token_id=pad)
        texts = model.tokenizer.batch_decode(generated[:, -int(options["max_new_tokens"]):],
                                             skip_special_tokens=True)
        for i, text in zip(indices, texts):
            out[i] = " ".join(text.split())
    return out


@torch.no_grad()
def answer_scores(model, rows: list, rationales: list, options: dict, batch_size: int):
    from promptdsl.data.batching import eval_batches
    pieces = stage_pieces(model.template.pieces, options["trigger"], options["answer_trigger"])
    rows = [{**row, RATIONALE: rationale} for row, rationale in zip(rows, rationales)]
    features = renderer(model, pieces).encode(rows)
    scores = torch.empty(len(rows), len(model.labels))
    for indices in eval_batches(features.lengths, batch_size):
        batch = {k: v.to(model.device) for k, v in model.collate(features, indices).items()}
        batch.pop("labels", None)
        scores[torch.as_tensor(indices)] = model(batch)["logits"].float().cpu()
    return scores


def run_cot(task: dict, context) -> dict:
    from promptdsl.train.trainer import EvalResult
    options = {"max_new_tokens": 64, "trigger": "Let's think step by step.",
               "answer_trigger": "Therefore, the answer is", **cot_options(task)}
    model = context.build_model()
    if model.family != CAUSAL:
        raise ModelError(f"method cot generates a rationale, which needs a causal model; "
                         f"model `{task['model']}` is {model.family}")
    model.to(context.device)
    prepare_model(model, context)
    name = next((n for n in ("test", "validation") if context.table(n) is not None), None)
    if name is None:
        raise DataError("the task has no data.test or data.validation to evaluate on",
                        task.get("file"))
    table = context.table(name)
    batch_size = int(task["train"].get("eval_batch_size") or 32)
    context.echo(f"cot: generating rationales for {len(table)} rows")
    rationales = generate_rationales(model, table.rows, options, batch_size)
    scores = answer_scores(model, table.rows, rationales, options, batch_size)
    labels = list(model.labels)
    predicted = [labels[i] for i in scores.argmax(-1).tolist()]
    label_column = task["data"]["label"]
    metrics = {}
    if label_column in table.columns:
        metrics = compute_metrics(table.column(label_column), predicted, labels,
                                  task.get("metric"))
    result = EvalResult(metrics, predicted, scores.softmax(-1), len(table), 0.0)
    write_tsv(context.rundir.path / "rationales.tsv", ["line", "rationale"],
              [[line, r] for line, r in zip(table.lines, rationales)])
    context.log({"split": name, **metrics})
    context.finish(model, result, table, name)
    return metrics

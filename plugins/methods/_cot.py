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

from promptdsl.data import as_table
from promptdsl.errors import ModelError
from promptdsl.runtime import label_scores, map_rows

RATIONALE = "rationale"        # the extra column of predictions.tsv
_FIELD = "__cot_rationale"     # the stage-two template field that holds it


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
                  {"type": "field", "name": _FIELD, "filters": [], "shortenable": True},
                  {"type": "text", "text": " " + answer_trigger.strip() + " "}, mask]


def install(model, options) -> None:
    """`apply` of method cot: the model scores rows in two stages from now on (training runs,
    `promptc eval` and `promptc predict` alike)."""
    if not model.family_rules.reads_next_token:
        raise ModelError(f"method cot generates a rationale, which needs a causal model; "
                         f"model `{model.task['model']}` is {model.family}")
    model.row_scorer = lambda rows, **kwargs: cot_scores(model, rows, options, **kwargs)


def generate_rationales(model, rows: list, options, **kwargs) -> list:
    """Stage one: greedy continuations after the reasoning trigger, one per row."""
    pieces = stage_pieces(model.template.pieces, options.trigger)
    features = model.encode(rows, labels=False, pieces=pieces)
    tokenizer = model.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    new_tokens = options.max_new_tokens

    def generate(batch) -> list:
        generated = model.hf_model().generate(
            inputs_embeds=model.input_embeddings(batch), attention_mask=batch["attention_mask"],
            max_new_tokens=new_tokens, do_sample=False, pad_token_id=pad)
        texts = tokenizer.batch_decode(generated[:, -new_tokens:], skip_special_tokens=True)
        return [" ".join(text.split()) for text in texts]
    kwargs.pop("desc", None)
    return map_rows(model, features, generate, desc="cot: rationales", **kwargs)


def cot_scores(model, rows, options, **kwargs) -> tuple:
    """(label scores after stage two [N, L], {"rationale": [text per row]})."""
    rows = as_table(rows, model.renderer().fields).rows   # a Table, row dicts or texts
    if not rows:
        return torch.empty(0, len(model.labels)), {RATIONALE: []}
    rationales = generate_rationales(model, rows, options, **kwargs)
    pieces = stage_pieces(model.template.pieces, options.trigger, options.answer_trigger)
    answered = [{**row, _FIELD: rationale} for row, rationale in zip(rows, rationales)]
    features = model.encode(answered, labels=False, pieces=pieces)
    return label_scores(model, features, **kwargs), {RATIONALE: rationales}

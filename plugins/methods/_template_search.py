"""LM-BFF-style template generation on the runtime's RunContext (see
plugins/methods/template_search.py).

Proposing renders rows through template pieces of our own with the generator's data path (so
fields, filters and truncation behave as in the task's template) and decodes with the model's
own `generate`: on a seq2seq model the searched slot becomes the span sentinel and the [MASK]
the row's gold label word; on a causal model the pieces end at the slot, where the model goes on.
"""
from __future__ import annotations

import copy

import torch

import promptdsl
from promptdsl.errors import DataError, ModelError
from promptdsl.options import typed
from promptdsl.runtime import label_scores, map_rows, result_from_logits, template_text

from ._discrete import filled_pieces, finish_search, gold_log_probs, is_plain_text, \
    searched_task, soft_indices
from .template_search import NAME, TemplateSearchOptions


def the_slot(pieces: list) -> tuple:
    """(index of the one soft piece, index of the one [MASK])."""
    slots = soft_indices(pieces)
    masks = [i for i, p in enumerate(pieces) if p["type"] == "mask"]
    if len(slots) != 1:
        raise ModelError(f"method {NAME} fills one slot; the template has {len(slots)} soft "
                         "pieces: keep one (`<soft*4>`) where the searched words go")
    if len(masks) != 1:
        raise ModelError(f"method {NAME} reads one [MASK]; the template has {len(masks)}")
    return slots[0], masks[0]


def proposal_rows(table, column: str, labels: list, count: int, seed: int) -> list:
    """Up to `count` rows, the labels taken in turn (each label's rows in a seeded order)."""
    generator = torch.Generator().manual_seed(seed)
    by_label = {str(label): [] for label in labels}
    for row in table.rows:
        by_label.setdefault(str(row[column]), []).append(row)
    queues = [[rows[i] for i in torch.randperm(len(rows), generator=generator).tolist()]
              for rows in by_label.values() if rows]
    picked: list = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    return picked


def proposal_pieces(pieces: list, slot: int, mask: int, family_rules, word: str) -> list:
    """What the generator reads: seq2seq, the slot as the span to fill and `word` at the
    [MASK]; causal, the pieces before the slot, then the position it goes on from."""
    sentinel = {"type": "mask", "name": None}
    if family_rules.has_decoder:
        out = [dict(p) for p in pieces]
        out[slot], out[mask] = sentinel, {"type": "text", "text": word}
        return out
    if not any(p["type"] == "field" for p in pieces[:slot]):
        raise ModelError(f"method {NAME}: a causal generator goes on from the text before the "
                         "slot, and no field comes before it; put <soft…> after the input, or "
                         "set `generator:` to a seq2seq model (T5)")
    return [dict(p) for p in pieces[:slot]] + [sentinel]


def propose(generator, pieces: list, slot: int, mask: int, rows: list, task: dict,
            options) -> list:
    """Candidate slot texts (first seen first, each once) from beam search over `rows`."""
    tokenizer = generator.tokenizer
    rules = generator.family_rules
    if not rules.reads_next_token and not rules.has_decoder:
        raise ModelError(f"method {NAME}: model `{generator.task['model']}` is a masked LM and "
                         "cannot propose text; set `generator:` to a seq2seq (T5) or causal "
                         "model")
    stop = set(tokenizer.all_special_ids or [])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    length = options.max_tokens or max(4, 2 * pieces[slot]["count"] if pieces[slot]["count"]
                                       else 4)
    words = {str(e["label"]): e["words"][0] for e in task["verbalizer"]["labels"]}
    column = task["data"]["label"]

    def generate(batch) -> list:
        kwargs = {"inputs_embeds": generator.input_embeddings(batch),
                  "attention_mask": batch["attention_mask"], "max_new_tokens": length,
                  "num_beams": options.beams, "num_return_sequences": options.beams,
                  "do_sample": False, "pad_token_id": pad}
        start = 0
        if "decoder_input_ids" in batch:
            kwargs["decoder_input_ids"] = batch["decoder_input_ids"]
            start = batch["decoder_input_ids"].shape[1]
        out = generator.hf_model().generate(**kwargs)[:, start:].tolist()
        texts = [tokenizer.decode(_until(ids, stop), skip_special_tokens=True) for ids in out]
        return [texts[i:i + options.beams] for i in range(0, len(texts), options.beams)]

    found: dict = {}
    for label, word in words.items():
        group = [row for row in rows if str(row[column]) == label]
        if not group:
            continue
        features = generator.encode(group, labels=False,
                                    pieces=proposal_pieces(pieces, slot, mask, rules, word))
        for beams in map_rows(generator, features, generate, desc=f"{NAME}: proposing"):
            for text in beams:
                text = " ".join(text.split("\n")[0].split())
                if is_plain_text(text):
                    found.setdefault(text, None)
    return list(found)


def _until(ids: list, stop: set) -> list:
    """The ids before the first special token (a span's end sentinel, end of sequence, pad),
    leading ones skipped."""
    out = []
    for token in ids:
        if token in stop:
            if out:
                break
            continue
        out.append(token)
    return out


def generator_model(task: dict, context, name: str | None):
    if name is None:
        return None
    other = copy.deepcopy(task)
    other["model"], other["methods"] = name, [{"name": "zero_shot", "options": {}}]
    return context.build_model(other)


def rank(model, task: dict, table, pieces: list, slot: int, candidates: list,
         options) -> list:
    """[(template text, slot text, metric, mean gold log-prob)], best first."""
    labels = model.labels
    column = task["data"]["label"]
    gold = table.column(column)
    index = {str(label): i for i, label in enumerate(labels)}
    gold_index = torch.tensor([index[str(g)] for g in gold])
    better = promptdsl.get_registry().metrics[task["metric"]].higher_is_better
    ranked = []
    for text in candidates:
        filled = filled_pieces(pieces, {slot: text})
        scores = label_scores(model, model.encode(table, labels=True, pieces=filled))
        value = result_from_logits(scores, labels, gold, task["metric"]).metrics[task["metric"]]
        log_prob = float(gold_log_probs(scores, gold_index).mean())
        if not isinstance(value, (int, float)):
            value = log_prob                    # a metric that is not one number
        ranked.append((template_text(filled), text, float(value), log_prob))
    sign = 1 if better else -1
    if options.score == "log_prob":
        ranked.sort(key=lambda r: -r[3])
    else:
        ranked.sort(key=lambda r: (-sign * r[2], -r[3]))
    return ranked


def ensemble_metrics(model, task: dict, table, pieces: list, slot: int, kept: list) -> dict:
    """The kept templates together on `table`: the mean of their label log-probabilities."""
    mean = torch.stack([label_scores(model, model.encode(
        table, pieces=filled_pieces(pieces, {slot: text}))).float().log_softmax(-1)
        for _, text, _, _ in kept]).mean(0)
    column = task["data"]["label"]
    gold = table.column(column) if column in table.columns else None
    return result_from_logits(mean, model.labels, gold, task["metric"]).metrics


def run_template_search(task: dict, context) -> dict:
    method = next(m for m in task["methods"] if m["name"] == NAME)
    options = typed(TemplateSearchOptions, method["options"], f"method {NAME}")
    searched_task(task, NAME)
    pieces = task["template"]["pieces"]
    slot, mask = the_slot(pieces)
    train = context.table("train")
    if train is None or not len(train):
        raise DataError(f"method {NAME} proposes templates from the train rows, and there are "
                        "none", task["file"])
    validation = context.table("validation")
    scored_on, table = ("validation", validation) if validation is not None else ("train", train)
    model = context.build_model()
    context.prepare(model)
    generator = generator_model(task, context, options.generator) or model
    rows = proposal_rows(train, task["data"]["label"], model.labels, options.examples,
                         context.seed)
    candidates = propose(generator, pieces, slot, mask, rows, task, options)
    generator = None                # a generator of its own is not needed any more
    if not candidates:
        raise ModelError(f"method {NAME}: model `{options.generator or task['model']}` proposed "
                         "no usable text (all empty, or holding template markup); try more "
                         "`examples` or `beams`, or another `generator`")
    context.echo(f"{NAME}: {len(candidates)} candidate templates from {len(rows)} rows, "
                 f"scored on {len(table)} {scored_on} rows")
    ranked = rank(model, task, table, pieces, slot, candidates, options)
    kept = ranked[:options.keep]
    for place, (text, _, value, log_prob) in enumerate(kept, 1):
        context.echo(f"{NAME}: #{place} {task['metric']} {value:.4f}, log-prob {log_prob:.4f}: "
                     f"\"{text}\"")
        context.log({NAME: place, "template": text, "split": scored_on, task["metric"]: value,
                     "gold_log_prob": round(log_prob, 6)})
    extra = {"templates": [{"template": t, task["metric"]: v, "gold_log_prob": lp}
                           for t, _, v, lp in kept]}
    if options.ensemble:
        final_name, final_table = context.final_split()
        extra["ensemble"] = ensemble_metrics(model, task, final_table, pieces, slot, kept)
        context.log({"split": final_name, "member": "ensemble", "templates": len(kept),
                     **extra["ensemble"]})
    model = None                    # its backbone goes before the found task's is loaded
    best = kept[0]
    note = (f"{NAME}: best of {len(candidates)} proposed templates by {scored_on} "
            f"{task['metric']} {best[2]:.4f} (gold log-prob {best[3]:.4f})")
    return finish_search(task, context, NAME, filled_pieces(pieces, {slot: best[1]}), note,
                         extra)

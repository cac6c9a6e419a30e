"""What the discrete template searches (`autoprompt`, `template_search`) share: the searched
slots are the template's soft pieces; a found template is those pieces written as words, saved
as `found.prompt` (a plain zero-shot task) in the run directory and evaluated through it, so the
run's metrics and checkpoint are exactly what `promptc train found.prompt` gives."""
from __future__ import annotations

import torch

import promptdsl
from promptdsl.errors import DataError, ModelError
from promptdsl.runtime import template_text, write_found

FOUND = "found.prompt"
# characters that mean something in a template (fields, masks, soft tokens): found text never
# holds them, so it is always read back as plain text
TEMPLATE_MARKUP = set("{}[]<>")


def searched_task(task: dict, method: str) -> dict:
    """The task's template, checked for what a search needs: it stands alone, has soft slots
    to fill, one template and train rows. Raised before anything is written."""
    others = [m["name"] for m in task["methods"] if m["name"] != method]
    if others:
        raise ModelError(f"method {method} searches a template and stands alone; the task also "
                         f"names {', '.join(others)}: run the search, then train `found.prompt` "
                         "(a plain task with the found template) with those methods")
    if task.get("templates"):
        raise ModelError(f"method {method} searches one template: write `template:`, not a "
                         "`templates` block")
    if task.get("target") is not None:
        raise ModelError(f"method {method} needs a verbalizer (classification)")
    pieces = task["template"]["pieces"]
    if not any(p["type"] == "soft" for p in pieces):
        raise ModelError(f"method {method}: template \"{task['template']['text']}\" has no soft "
                         "tokens to search; mark the searched slot with them, e.g. "
                         "\"{sentence} <soft*4> [MASK]\"")
    if not task["data"]["train"]:
        raise DataError(f"method {method} searches on the train rows, but `data` has no `train` "
                        "file", task["file"])
    return task


def is_plain_text(text: str) -> bool:
    """Text a template can hold as it is: printable, on one line, no template markup, no
    U+FFFD (what decoding part of a character's bytes gives)."""
    return bool(text.strip()) and text.isprintable() and "\ufffd" not in text and \
        not TEMPLATE_MARKUP & set(text)


def filled_pieces(pieces: list, texts: dict) -> list:
    """`pieces` with soft piece i written as the text `texts[i]` (a name's every use gets the
    same text), merged into the text around it as the template parser would have read it.
    A space separates the found words from a neighbour that has no whitespace of its own."""
    out: list = []
    for i, piece in enumerate(pieces):
        if piece["type"] != "soft":
            out.append(dict(piece))
            continue
        text = texts[i]
        before = out[-1] if out else None
        if before is not None and not (before["type"] == "text" and
                                       before["text"][-1:].isspace()):
            text = " " + text
        after = pieces[i + 1] if i + 1 < len(pieces) else None
        if after is not None and after["type"] == "text" and not after["text"][:1].isspace():
            text += " "
        out.append({"type": "text", "text": text})
    merged: list = []
    for piece in out:
        if piece["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "text": merged[-1]["text"] + piece["text"]}
        else:
            merged.append(piece)
    return merged


def soft_indices(pieces: list) -> list:
    return [i for i, p in enumerate(pieces) if p["type"] == "soft"]


def starts_a_line(pieces: list, index: int) -> bool:
    """Whether the words written for soft piece `index` start the template or a line: the
    data path gives such text no leading space (a line break before it is kept as written),
    so its first word is the tokenizer's spaceless form."""
    if index == 0:
        return True
    before = pieces[index - 1]
    if before["type"] != "text":
        return False
    text = before["text"]
    trailing = text[len(text.rstrip()):]
    return bool(trailing.replace(" ", ""))


def gold_log_probs(scores: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """[N] each row's log-probability of its gold label under the label scores [N, L] (the
    distribution the training loss uses)."""
    return scores.float().log_softmax(-1).gather(-1, gold.view(-1, 1).to(scores.device))[:, 0]


def finish_search(task: dict, context, method: str, pieces: list, note: str,
                  extra: dict | None = None) -> dict:
    """Write `found.prompt` with the template of `pieces` (method `method` dropped: a
    zero-shot task), load it through the front end (so `promptc check` accepts it), evaluate
    it on the run's final split, and make it the run's checkpoint; the final metrics."""
    text = template_text(pieces)
    path = write_found(task, context.rundir.path, template=text, drop_methods=(method,),
                       note=note)
    found = promptdsl.load(path, task=task["name"])
    context.echo(f"{method}: found template \"{text}\" (written to {path})")
    model = context.build_model(found)
    context.prepare(model)
    final_name, final_table = context.final_split()
    result = context.trainer(model).evaluate(context.encode(model, final_table, final_name),
                                             desc=final_name)
    context.log({"split": final_name, "method": method, "template": text, **result.metrics})
    context.finish(model, result, final_table, final_name)
    return {**result.metrics, **(extra or {})}


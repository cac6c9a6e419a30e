"""AutoPrompt's trigger search on the runtime's RunContext (see plugins/methods/autoprompt.py).

The trigger slots are the rows of the model's soft-token table: during the search each holds
the input embedding of its current word, so the model reads exactly what the literal words
would give it. A candidate is scored by writing it into its slot as a hard token, every
candidate of a step in one batched pass over the same rows.
"""
from __future__ import annotations

import torch

from promptdsl.errors import DataError, ModelError
from promptdsl.options import typed
from promptdsl.runtime import label_scores

from ._discrete import filled_pieces, finish_search, gold_log_probs, is_plain_text, \
    searched_task, soft_indices, starts_a_line
from .autoprompt import NAME, AutoPromptOptions


def word_vocabulary(tokenizer, size: int, spaced: bool = True) -> tuple:
    """(ids [A], words): the tokens a trigger may be, each a whole word that a template
    written with it tokenizes back to exactly that token (after a space when `spaced`, else
    at the start of a line): no special tokens, no word pieces, no bytes of a longer
    character, no template markup."""
    special = set(tokenizer.all_special_ids or [])
    ids = [i for i in range(min(size, len(tokenizer))) if i not in special]
    words = [w.strip() for w in tokenizer.batch_decode([[i] for i in ids])]
    kept = [(i, w) for i, w in zip(ids, words)
            if is_plain_text(w) and not any(c.isspace() for c in w)]
    lead = " " if spaced else ""
    again = tokenizer([lead + w for _, w in kept], add_special_tokens=False)["input_ids"]
    kept = [(i, w) for (i, w), tokens in zip(kept, again) if tokens == [i]]
    if not kept:
        raise ModelError(f"{NAME}: the tokenizer has no whole-word tokens to use as triggers")
    return torch.tensor([i for i, _ in kept]), [w for _, w in kept]


class Vocabulary:
    """The words each trigger slot may hold: the spaced form of a word, or for the first
    word of a slot that starts a line its spaceless form (`_discrete.starts_a_line`)."""

    def __init__(self, tokenizer, size: int, line_start_rows: set):
        self.kinds = {True: word_vocabulary(tokenizer, size, spaced=True)}
        if line_start_rows:
            self.kinds[False] = word_vocabulary(tokenizer, size, spaced=False)
        self.line_start_rows = line_start_rows
        self.word_of = {i: w for ids, words in self.kinds.values()
                        for i, w in zip(ids.tolist(), words)}

    def of_row(self, row: int) -> tuple:
        return self.kinds[row not in self.line_start_rows]

    def start(self, row: int, word: str | None, filler: str) -> int:
        """A slot's first word: its init text's token, else the filler."""
        ids, words = self.of_row(row)
        index = dict(zip(words, ids.tolist()))
        if word in index:
            return index[word]
        if filler.strip() not in index:
            raise ModelError(f"{NAME}: filler `{filler}` is not one whole-word token of the "
                             "model; choose another (`filler: \"the\"`)")
        return index[filler.strip()]


class Batches:
    """Seeded batches of row indices, each epoch a new permutation."""

    def __init__(self, rows: int, size: int, seed: int):
        self.rows, self.size = rows, min(size, rows)
        self.generator = torch.Generator().manual_seed(seed)
        self.pending: list = []

    def next(self) -> list:
        while len(self.pending) < self.size:
            self.pending += torch.randperm(self.rows, generator=self.generator).tolist()
        out, self.pending = self.pending[:self.size], self.pending[self.size:]
        return sorted(out)


def on_device(batch: dict, device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def trigger_gradient(model, batch: dict) -> torch.Tensor:
    """[n_soft, H] the gradient of the batch's mean gold-label loss at the trigger
    embeddings."""
    soft = model.soft_prompt.weight
    soft.grad = None
    with torch.enable_grad():
        model.backward(model(batch)["loss"])
    grad = soft.grad.detach().clone()
    soft.grad = None
    return grad


@torch.no_grad()
def candidate_log_probs(model, batch: dict, row: int, candidates: torch.Tensor) -> torch.Tensor:
    """[C] the batch's mean gold log-probability with soft row `row` written as each
    candidate token: all C copies of the batch in one pass."""
    size, count = batch["input_ids"].shape[0], len(candidates)
    big = {k: v.repeat(count, *[1] * (v.dim() - 1))
           if isinstance(v, torch.Tensor) and v.dim() and v.shape[0] == size else v
           for k, v in batch.items()}
    gold = big.pop("labels")
    at = big["soft_ids"] == row
    tokens = candidates.to(at.device).repeat_interleave(size)[:, None]
    big["input_ids"] = torch.where(at, tokens, big["input_ids"])
    big["soft_ids"] = torch.where(at, torch.full_like(big["soft_ids"], -1), big["soft_ids"])
    return gold_log_probs(model(big)["logits"], gold).view(count, size).mean(1).cpu()


def run_autoprompt(task: dict, context) -> dict:
    method = next(m for m in task["methods"] if m["name"] == NAME)
    options = typed(AutoPromptOptions, method["options"], f"method {NAME}")
    searched_task(task, NAME)
    train = context.table("train")
    if train is None or not len(train):
        raise DataError(f"method {NAME} searches on the train rows, and there are none",
                        task["file"])
    model = context.build_model()
    context.prepare(model)
    model.eval()
    embeddings = model.backbone.get_input_embeddings().weight
    pieces = task["template"]["pieces"]
    rows = {i: range(p["first"], p["first"] + p["count"])
            for i, p in zip(soft_indices(pieces),
                            [p for p in model.template.pieces if p["type"] == "soft"])}
    vocabulary = Vocabulary(model.tokenizer, embeddings.shape[0],
                            {span.start for i, span in rows.items() if starts_a_line(pieces, i)})
    word_of = vocabulary.word_of
    triggers = torch.tensor([
        vocabulary.start(row, model.tokenizer.decode([init]).strip()
                         if isinstance(init, int) else None, options.filler)
        for row, init in enumerate(model.template.soft_init)])
    soft = model.soft_prompt.weight
    soft.requires_grad_(True)

    def write_triggers() -> None:
        with torch.no_grad():
            soft.copy_(embeddings[triggers.to(embeddings.device)].to(soft.dtype))

    features = model.encode(train, labels=True)
    gold = torch.as_tensor(features.labels)

    def train_log_prob() -> float:
        return float(gold_log_probs(label_scores(model, features), gold).mean())

    write_triggers()
    before = train_log_prob()
    start = [word_of[i] for i in triggers.tolist()]
    context.echo(f"{NAME}: {len(word_of)} candidate words; start \"{' '.join(start)}\", "
                 f"train log-likelihood {before:.4f}")
    batches = Batches(len(train), options.batch_size, context.seed)
    vectors = embeddings.detach().float()
    for step in range(options.iterations):
        row = step % len(triggers)
        ids, _ = vocabulary.of_row(row)
        grad = trigger_gradient(model, on_device(model.collate(features, batches.next()),
                                                 model.device))
        gain = -(vectors[ids.to(vectors.device)] @ grad[row].float().to(vectors.device))  # [A]
        gain[ids.to(gain.device) == triggers[row]] = -float("inf")         # not itself again
        top = ids[gain.topk(min(options.candidates, len(ids) - 1)).indices.cpu()]
        tried = torch.cat([triggers[row:row + 1], top])
        scores = candidate_log_probs(model, on_device(model.collate(features, batches.next()),
                                                      model.device), row, tried)
        best = int(scores.argmax())
        if best > 0 and scores[best] > scores[0]:
            triggers[row] = tried[best]
            write_triggers()
            context.log({NAME: step + 1, "slot": row, "word": word_of[int(tried[best])],
                         "batch_log_likelihood": round(float(scores[best]), 6)})
    after = train_log_prob()
    found = [word_of[i] for i in triggers.tolist()]
    context.echo(f"{NAME}: triggers \"{' '.join(found)}\", train log-likelihood {before:.4f} "
                 f"-> {after:.4f}")
    texts = {i: " ".join(found[r] for r in span) for i, span in rows.items()}
    note = (f"{NAME}: {options.iterations} iterations, {options.candidates} candidates, seed "
            f"{context.seed}; train log-likelihood {before:.4f} -> {after:.4f}")
    return finish_search(task, context, NAME, filled_pieces(pieces, texts), note,
                         {"search": {"start": " ".join(start), "found": " ".join(found),
                                     "train_log_likelihood": [before, after]}})

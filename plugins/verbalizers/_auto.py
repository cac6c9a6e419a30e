"""The automatic verbalizer: label words searched on the labelled train rows (PETAL's
likelihood ratio, see `_search`). Before the search (or without train data) the label words
given in the block are used as seeds, cycled to `words_per_label` words per label. The found
words are single tokens; they replace the seeds in the persistent word tables, and a run writes
them into its run directory's found.prompt (a manual verbalizer, docs/search.md).
"""
from __future__ import annotations

import time

import torch

from promptdsl.errors import DataError
from promptdsl.model import Verbalizer

from ._head import persist
from .auto import AutoOptions
from ._search import search_label_words, word_like_tokens

CHUNK = 256   # rows per pass when averaging full-vocabulary probabilities


class AutoVerbalizer(Verbalizer):
    Options = AutoOptions

    def __init__(self, context):
        options = self.read_options(context)
        self.per_label = options.words_per_label
        self.n_candidates = options.candidates
        seeds = [[words[i % len(words)] for i in range(self.per_label)] if words else []
                 for words in context.words]
        super().__init__(context, seeds)
        persist(self, "word_ids", "word_mask")
        self.tokenizer = context.tokenizer
        self.mask_space = context.mask_space

    def prepare(self, model, context) -> None:
        train = context.train
        if train is None or model.task["data"]["label"] not in train.columns:
            raise DataError("verbalizer auto searches label words on labelled data.train; "
                            "the task has none", model.task.get("file"))
        labels = context.label_indices(train)
        total = None
        for start in range(0, len(train), CHUNK):
            part = train.subset(range(start, min(start + CHUNK, len(train))))
            probs = context.map_mask(part, lambda logits, hidden: logits.softmax(-1)).sum(0)
            total = probs if total is None else total + probs
        ranked = total.argsort(descending=True)
        candidates = self.candidate_ids(ranked)
        probs = context.map_mask(train, lambda logits, hidden:
                                 logits.softmax(-1)[:, candidates.to(logits.device)])
        found = search_label_words(probs, labels, self.num_labels,
                                   torch.arange(len(candidates)), self.per_label)
        self.set_found([[int(candidates[i]) for i in picks] for picks in found])
        context.echo("verbalizer auto: " + "; ".join(
            f"{label}: {', '.join(words)}" for label, words in zip(self.labels, self.words)))
        self.hand_found(context, len(train))

    def hand_found(self, context, rows: int) -> None:
        """The found words to the run, which writes them as found.prompt (a manual verbalizer);
        nothing outside a run, or when a label is left without any word."""
        empty = [str(label) for label, words in zip(self.labels, self.words) if not words]
        if empty:
            context.echo(f"verbalizer auto: no found.prompt, no word for {', '.join(empty)}")
            return
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        context.write_found(
            words={str(label): words for label, words in zip(self.labels, self.words)},
            note=f"label words found by `verbalizer auto` (PETAL likelihood ratio) on {rows} "
                 f"train rows, {when}\nfrom task `{context.task['name']}` of "
                 f"{context.task.get('file')}")

    def candidate_ids(self, ranked: torch.Tensor) -> torch.Tensor:
        """The `candidates` most likely tokens that are whole words at the mask."""
        out = []
        for start in range(0, len(ranked), 4 * self.n_candidates):
            ids = word_like_tokens(self.tokenizer, ranked[start:start + 4 * self.n_candidates],
                                   self.mask_space)
            out.extend(ids.tolist())
            if len(out) >= self.n_candidates:
                break
        return torch.tensor(out[:self.n_candidates], dtype=torch.long)

    def set_found(self, found: list) -> None:
        """Write the found token ids into the word tables (a label with fewer finds than
        `words_per_label` repeats them; one with none keeps its seeds)."""
        ids, mask = self.word_ids.clone(), self.word_mask.clone()
        for label, tokens in enumerate(found):
            if not tokens:
                continue
            for j in range(self.per_label):
                row = label * self.per_label + j
                ids[row] = 0
                mask[row] = False
                ids[row, 0] = tokens[j % len(tokens)]
                mask[row, 0] = True
                self.words[label][j] = self.tokenizer.decode([tokens[j % len(tokens)]]).strip()
        self.word_ids.copy_(ids)
        self.word_mask.copy_(mask)

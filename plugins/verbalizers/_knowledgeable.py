"""The knowledgeable verbalizer (KPT, Hu et al. 2022).

Build: the user's words (anchors) plus the words `expand:` brings, at most `max_words` per label,
dropping expansion words the tokenizer cannot represent. Prepare (on unlabelled rows, else the
train rows): `refine: frequency` and `relevance` switch words off in the persistent `word_keep`
mask. Scoring: the base pipeline over the kept words, then each label's score is a weighted mean
of its words' log-probabilities, the weights a softmax over learnable per-word logits (zero at
start: the plain mean of KPT's zero-shot setting).
"""
from __future__ import annotations

import torch
from torch import nn

from promptdsl.data import label_word_ids
from promptdsl.errors import DataError
from promptdsl.model import EPS, Verbalizer

from ._expand import expanded_words
from .knowledgeable import KnowledgeableOptions
from ._refine import frequency_keep, relevance_keep


def representable(context, words: list) -> list:
    """The words the tokenizer can write with known tokens (expansion lists hold some that a
    given vocabulary cannot)."""
    ids = label_word_ids(context.tokenizer, words, context.mask_space)
    unk = getattr(context.tokenizer, "unk_token_id", None)
    return [w for w, t in zip(words, ids) if t and not all(i == unk for i in t)]


class KnowledgeableVerbalizer(Verbalizer):
    Options = KnowledgeableOptions

    def __init__(self, context):
        options = self.read_options(context)
        given = dict(zip(context.labels, context.words))
        expanded = expanded_words(given, options.expand, context.task.get("file"))
        limit = options.max_words
        words = []
        for label in context.labels:
            anchors = list(given[label])
            extra = representable(context, [w for w in expanded[label] if w not in anchors])
            words.append((anchors + extra)[:max(limit or 0, len(anchors))] if limit
                         else anchors + extra)
        super().__init__(context, words)
        anchor = torch.tensor([w in given[label] for label, label_words in
                               zip(context.labels, words) for w in label_words])
        self.register_buffer("word_anchor", anchor.to(self.word_ids.device), persistent=False)
        self.register_buffer("word_keep", torch.ones_like(self.word_anchor))
        self.word_weight = nn.Parameter(torch.zeros(len(anchor), device=self.word_ids.device),
                                        requires_grad=options.learn_weights)
        self.refine = list(options.refine)
        self.cutoff = options.cutoff

    # ---------------------------------------------------------------- scoring
    def normalize(self, word_scores: torch.Tensor) -> torch.Tensor:
        """Softmax over the kept words only."""
        return torch.softmax(word_scores.masked_fill(~self.word_keep, float("-inf")), dim=-1)

    def label_weights(self) -> torch.Tensor:
        """[L, W]: each label's weights over its kept words (softmax of `word_weight`)."""
        labels = torch.arange(self.num_labels, device=self.word_owner.device)
        mine = (self.word_owner[None, :] == labels[:, None]) & self.word_keep[None, :]
        logits = self.word_weight[None, :].float().masked_fill(~mine, float("-inf"))
        return torch.softmax(logits, dim=-1)

    def aggregate(self, word_probs: torch.Tensor) -> torch.Tensor:
        return torch.log(word_probs + EPS) @ self.label_weights().T

    # ---------------------------------------------------------------- prepare
    def prepare(self, model, context) -> None:
        if not self.refine:
            return
        rows = context.unlabeled if context.unlabeled is not None else context.train
        if rows is None:
            raise DataError("verbalizer knowledgeable: `refine` looks at the model's predictions "
                            "on data.unlabeled (or data.train); the task has neither",
                            model.task.get("file"))
        probs = context.map_mask(rows, lambda logits, hidden: self.project(logits, hidden).exp())
        keep = torch.ones_like(self.word_anchor).cpu()
        owner, anchor = self.word_owner.cpu(), self.word_anchor.cpu()
        if "frequency" in self.refine:
            keep &= frequency_keep(probs, owner, anchor, self.cutoff)
        if "relevance" in self.refine:
            keep &= relevance_keep(probs, owner, anchor, self.num_labels)
        self.word_keep.copy_(keep.to(self.word_keep.device))
        context.echo(f"verbalizer knowledgeable: {int(keep.sum())} of {len(keep)} label words "
                     f"kept after refinement ({', '.join(self.refine)}) on {len(probs)} rows")

    def kept_words(self) -> dict:
        """{label: its words still in use}."""
        flat = [w for words in self.words for w in words]
        out = {label: [] for label in self.labels}
        for word, owner, keep in zip(flat, self.word_owner.tolist(), self.word_keep.tolist()):
            if keep:
                out[self.labels[owner]].append(word)
        return out

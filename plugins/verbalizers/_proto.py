"""The prototype verbalizer (after ProtoVerb, Cui et al. 2022): a label's score is the cosine
similarity of the mask's hidden state with the label's prototype, divided by a temperature,
plus `words_weight` × the manual score of its label words.

Prototypes start at the mean output embedding of the label's words (usable before any data),
and the prepare phase sets them to the mean (unit-normalised) mask hidden state of the label's
train rows. Trainable unless `trainable: false`; saved with the model either way.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._head import LabelHead, keep_calibration
from .proto import ProtoOptions


class ProtoVerbalizer(LabelHead):
    Options = ProtoOptions

    def __init__(self, context):
        super().__init__(context)
        self.temperature = self.options.temperature
        self.words_weight = self.options.words_weight
        weight = context.output_embeddings().detach().float()
        hidden = context.hidden_size
        if weight.shape[1] == hidden:
            mask = self.word_mask.float()
            per_word = (weight[self.word_ids] * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            init = per_word.new_zeros(self.num_labels, hidden).index_add_(0, self.word_owner,
                                                                          per_word)
        else:  # the head projects to another size: no word vector lives in the hidden space
            generator = torch.Generator().manual_seed(int(context.task["train"].get("seed") or 0))
            init = torch.randn(self.num_labels, hidden, generator=generator)
        init = F.normalize(init, dim=-1).to(self.word_ids.device)
        if self.options.trainable:
            self.prototypes = nn.Parameter(init)
        else:
            self.register_buffer("prototypes", init)
        keep_calibration(self, self.num_labels)

    def label_scores(self, mask_logits, mask_hidden):
        similarity = F.normalize(mask_hidden.float(), dim=-1) @ \
            F.normalize(self.prototypes.float(), dim=-1).T
        scores = similarity / self.temperature
        if self.words_weight:
            scores = scores + self.words_weight * self.word_scores(mask_logits, mask_hidden)
        return scores

    def prepare(self, model, context) -> None:
        train = context.train
        if train is None or model.task["data"]["label"] not in train.columns:
            context.echo("verbalizer proto: no labelled train data; the prototypes stay at the "
                         "label words' embeddings")
            return
        labels = context.label_indices(train)
        hidden = context.map_mask(train, lambda logits, h: F.normalize(h, dim=-1))
        with torch.no_grad():
            for label in range(self.num_labels):
                rows = hidden[labels == label]
                if len(rows):
                    self.prototypes[label] = F.normalize(rows.mean(0), dim=-1).to(
                        self.prototypes.device)

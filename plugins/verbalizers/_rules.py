"""The rules verbalizer's module (see `rules`): per-mask answer tables and each class's choice."""
from __future__ import annotations

import torch

from promptdsl.errors import ModelError
from promptdsl.model import Verbalizer, pool_tokens, token_table

from .rules import RulesOptions


class RuleVerbalizer(Verbalizer):
    Options = RulesOptions
    reads_masks = True

    def __init__(self, context):
        super().__init__(context)
        names = list(context.template_masks)
        if not names or context.word_masks is None:
            raise ModelError("verbalizer rules reads named masks: the template has none")
        self.mask_names = names
        self.rules = [_rule(label, words, masks, names) for label, words, masks in
                      zip(self.labels, context.words, context.word_masks)]
        self.answers = _answers(self.options.answers, self.rules, names)
        device = context.backbone.get_output_embeddings().weight.device
        choice = torch.tensor([[self.answers[m].index(rule[m]) for m in range(len(names))]
                               for rule in self.rules], dtype=torch.long)
        self.register_buffer("choice", choice.to(device), persistent=False)   # [C, M]
        spaces = list(context.mask_spaces)
        self.token_ids = [context.word_token_ids(self.answers[m], spaces[m])
                          for m in range(len(names))]
        rules = context.model.family_rules
        if rules.has_decoder:
            raise ModelError(f"verbalizer rules reads several masks on masked and causal "
                             f"models; model `{context.model_name}` is seq2seq")
        # a causal LM fills the masks in: each class's sequence is scored
        self.reads_sequences = rules.reads_next_token
        for m, ids in enumerate(self.token_ids):
            table, mask = token_table(ids)
            self.register_buffer(f"answer_ids_{m}", table.to(device), persistent=False)
            self.register_buffer(f"answer_mask_{m}", mask.to(device), persistent=False)

    # a masked LM: [B, M, V] logits at the masks -> [B, C]
    def forward(self, mask_logits: torch.Tensor, mask_hidden: torch.Tensor) -> torch.Tensor:
        scores = None
        for m in range(len(self.mask_names)):
            logp = torch.log_softmax(mask_logits[:, m].float(), dim=-1)
            ids, mask = getattr(self, f"answer_ids_{m}"), getattr(self, f"answer_mask_{m}")
            per_word = pool_tokens(logp[:, ids], mask, self.multi_token)          # [B, A_m]
            per_word = torch.log_softmax(per_word, dim=-1)                 # over the answers
            chosen = per_word[:, self.choice[:, m]]                        # [B, C]
            scores = chosen if scores is None else scores + chosen
        return scores

    # a causal LM: each class's words filled in at the masks, scored as one sequence
    def sequence_scores(self, model, batch: dict) -> torch.Tensor:
        words = [[self.token_ids[m][int(self.choice[c, m])] for m in range(len(self.mask_names))]
                 for c in range(len(self.rules))]
        return model.filled_log_probs(batch, words)

    def from_word_scores(self, word_scores: torch.Tensor) -> torch.Tensor:
        """The class scores are already per class (a filled sequence per rule)."""
        return word_scores

    def project(self, mask_logits, mask_hidden):
        raise ModelError("verbalizer rules reads every mask of the template: score rows "
                         "through the model")


def _rule(label, words: list, masks: list, names: list) -> list:
    """The word of each template mask (template order) for one class."""
    given = dict(zip(masks, words))
    missing = [n for n in names if n not in given]
    unknown = [m for m in masks if m not in names]
    if missing or unknown or len(masks) != len(given):
        raise ModelError(f"the rule of label {label!r} must give each of the template's masks "
                         f"({', '.join(names)}) one word; it gives {', '.join(masks) or 'none'}")
    return [given[n] for n in names]


def _answers(declared, rules: list, names: list) -> list:
    """Each mask's answers: declared (tagged words) or the distinct words the rules use."""
    out = [list(dict.fromkeys(rule[m] for rule in rules)) for m in range(len(names))]
    if declared:
        listed = [[] for _ in names]
        for item in declared:
            (mask, word), = item.items()
            if mask not in names:
                raise ModelError(f"answers: the template has no [MASK:{mask}]")
            if word not in listed[names.index(mask)]:
                listed[names.index(mask)].append(word)
        for m, words in enumerate(out):
            missing = [w for w in words if w not in listed[m]]
            if missing:
                raise ModelError(f"answers of [MASK:{names[m]}] lack {missing[0]!r}, which a "
                                 "rule gives it")
        out = listed
    return out

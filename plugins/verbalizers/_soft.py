"""The soft verbalizer (WARP, Hambardzumyan et al. 2021): one trainable vector per label in the
LM head's output space, scored against what the head's output projection reads at the mask.

Initialised from the label words' output embeddings (mean over words and their tokens) and
the head's output bias, so before training it scores like the manual verbalizer with
`multi_token: mean` over embeddings. The head's input is captured by a forward pre-hook on the
output-embedding layer, which covers model-specific head transforms (BERT's dense + LayerNorm,
T5's rescaling) without knowing them.
"""
from __future__ import annotations

import torch
from torch import nn

from ._head import LabelHead, keep_calibration
from .soft import SoftOptions


class SoftVerbalizer(LabelHead):
    Options = SoftOptions

    def __init__(self, context):
        super().__init__(context)
        output = context.backbone.get_output_embeddings()
        weight = output.weight.detach().float()                       # [V, H']
        ids, mask = self.word_ids, self.word_mask.float()
        per_word = (weight[ids] * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        counts = torch.bincount(self.word_owner, minlength=self.num_labels).clamp_min(1)
        init = per_word.new_zeros(self.num_labels, weight.shape[1]).index_add_(
            0, self.word_owner, per_word) / counts[:, None]
        if self.options.init == "random":
            generator = torch.Generator().manual_seed(int(context.task["train"].get("seed") or 0))
            init = torch.randn(init.shape, generator=generator).to(init) * weight.std()
        bias = torch.zeros(self.num_labels, device=init.device)
        if getattr(output, "bias", None) is not None:
            word_bias = (output.bias.detach().float()[ids] * mask).sum(1) / mask.sum(1)
            bias = bias.index_add(0, self.word_owner, word_bias) / counts
        self.label_embeddings = nn.Parameter(init)
        self.label_bias = nn.Parameter(bias)
        keep_calibration(self, self.num_labels)
        self._head_input = {}
        output.register_forward_pre_hook(self._capture)

    def _capture(self, _module, args):
        self._head_input["x"] = args[0]

    def features(self, mask_hidden: torch.Tensor) -> torch.Tensor:
        """[B, H']: the output projection's input at the mask, from the forward that produced
        `mask_hidden` (the raw hidden state when the head's input was not cut to one position)."""
        x = self._head_input.pop("x", None)
        if x is not None and x.dim() == 3 and x.shape[1] == 1 and x.shape[0] == mask_hidden.shape[0]:
            return x[:, 0]
        return mask_hidden

    def label_scores(self, mask_logits, mask_hidden):
        feats = self.features(mask_hidden).float()
        return feats @ self.label_embeddings.T + self.label_bias

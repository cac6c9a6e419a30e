"""Verbalizers: from what the model predicts at the mask to one score per label.

The pipeline of every kind (after OpenPrompt / KPT):
    project    vocabulary log-probabilities at the mask -> one score per label word [B, W]
               (a word of several tokens: `multi_token` mean | first | max of its tokens'
               log-probabilities, all read at the one mask position; `sequence`: instead of
               reading the mask, each word's full log-probability as the continuation of the
               prompt, `sequence_scores`, on causal and seq2seq models)
    normalize  -> a distribution over all label words (softmax over the W words)
    calibrate  -> divided by the words' probability on calibration inputs, renormalized
    aggregate  -> [B, L]: the mean log-probability of each label's words

Label words are kept flat: word w has token ids `word_ids[w]` (padded, `word_mask`) and belongs
to label `word_owner[w]`. Subclasses (soft, knowledgeable, …) override the steps they change.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import nn

from .. import families
from ..errors import ModelError
from ..options import VerbalizerOptions, typed

MULTI_TOKEN = ("mean", "first", "max", "sequence")
EPS = 1e-15


@dataclass
class VerbalizerContext:
    """What `VerbalizerSpec.build(context)` gets.

    - `task`: the task IR; `spec`: its `verbalizer` section; `options`: the kind's options, a
      dict (schema defaults filled in; `Verbalizer.read_options` types it); `labels`: label values in order; `words`: label words per
      label (same order).
    - `tokenizer`, `backbone` (the HF model), `family`, `model_name`.
    - `mask_space`: whether the template has whitespace before the read [MASK] (label words are
      then tokenized with a leading space where the tokenizer cares).
    - `word_masks`, `template_masks`, `mask_spaces`: for a kind that reads several masks
      (PTR's rules, words tagged `e1 "word"`): each label's words' masks, the template's mask
      names in order, and whether each mask follows whitespace.
    - `model`: the PromptModel being built (its verbalizer is not set yet): for kinds that need
      to run the model while building (e.g. label-word search), `model.encode`/`collate` and
      `model.read(batch)` work already.
    """
    task: dict
    spec: dict
    options: dict
    labels: list
    words: list
    tokenizer: object
    backbone: object
    family: str
    model_name: str
    mask_space: bool
    model: object = None
    # a kind that reads several masks (`reads_masks`): the mask each label word is for (per
    # label, in word order), the template's masks in order, whether each follows whitespace
    word_masks: list | None = None
    template_masks: tuple = ()
    mask_spaces: tuple = ()

    @property
    def hidden_size(self) -> int:
        return self.backbone.get_input_embeddings().weight.shape[1]

    @property
    def vocab_size(self) -> int:
        return self.backbone.get_output_embeddings().weight.shape[0]

    def output_embeddings(self) -> torch.Tensor:
        """[V, H]: the LM head's word vectors."""
        return self.backbone.get_output_embeddings().weight

    def input_embeddings(self) -> torch.Tensor:
        return self.backbone.get_input_embeddings().weight

    def word_token_ids(self, words: list, space: bool | None = None) -> list:
        """Token ids of each word as the model predicts it at the mask (leading-space rule of
        internals §2; `space`: whether that mask follows whitespace, default the read mask's).
        ModelError naming the word and the model for a word the tokenizer can only represent
        as unknown tokens (or not at all)."""
        from ..data.tokens import label_word_ids
        ids = label_word_ids(self.tokenizer, list(words),
                             self.mask_space if space is None else space)
        unk = getattr(self.tokenizer, "unk_token_id", None)
        for word, token_ids in zip(words, ids):
            if not token_ids or all(t == unk for t in token_ids):
                raise ModelError(
                    f"label word {word!r} cannot be represented by the tokenizer of model "
                    f"`{self.model_name}` (it becomes {'nothing' if not token_ids else 'unknown tokens'}); "
                    "choose another word")
        return ids


def token_table(ids: list) -> tuple:
    """(ids [W, K] padded with 0, mask [W, K]) of W token-id lists."""
    width = max(len(t) for t in ids)
    table = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.bool)
    for w, tokens in enumerate(ids):
        table[w, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[w, :len(tokens)] = True
    return table, mask


def pool_tokens(per_token: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """[B, W, K] log-probabilities of each word's K tokens (`mask` [W, K] marks the real ones)
    -> [B, W] one score per word: `multi_token` first | max | mean."""
    if how == "first":
        return per_token[:, :, 0]
    mask = mask.unsqueeze(0)
    if how == "max":
        return per_token.masked_fill(~mask, float("-inf")).amax(dim=-1)
    return (per_token * mask).sum(-1) / mask.sum(-1)


class Verbalizer(nn.Module):
    """Base class: label words → label scores through project → normalize → calibrate → aggregate.

    Build with `Verbalizer(context)` (words from the task) or `Verbalizer(context, words)` with
    `words` a list (per label) of word lists. A kind with options of its own sets `Options` to
    its subclass of `VerbalizerOptions` (the one its VerbalizerSpec names) and reads them from
    `self.options` (or `self.read_options(context)` before calling this constructor)."""

    Options = VerbalizerOptions
    # a kind that scores its words as generated text (generation) sets this: the words are
    # read as sequences that end with the end of sequence, and it has no multi_token option
    end_of_sequence = False

    def __init__(self, context: VerbalizerContext, words: list | None = None):
        super().__init__()
        self.options = self.read_options(context)
        self.labels = list(context.labels)
        self.multi_token = getattr(self.options, "multi_token",
                                   "sequence" if self.end_of_sequence else "mean")
        if self.multi_token not in MULTI_TOKEN:
            raise ModelError(f"multi_token must be one of {', '.join(MULTI_TOKEN)}, "
                             f"not {self.multi_token!r}")
        # True: words are scored as continuations of the prompt (PromptModel.forward asks
        # `sequence_scores` instead of reading the mask)
        self.reads_sequences = self.multi_token == "sequence"
        if self.reads_sequences and not families.get(context.family).generates:
            raise ModelError(f"`multi_token: sequence` scores each label word as the "
                             f"continuation of the prompt, which needs a causal or seq2seq "
                             f"model; model `{context.model_name}` is {context.family}")
        self.calibration_mode = getattr(self.options, "calibrate", None) or "none"
        self.words: list = []
        self.set_words(context, context.words if words is None else words)
        # ones = no change until measured; persistent so a checkpoint keeps the measurement
        self.register_buffer("calibration", torch.ones(len(self.word_owner),
                             device=self.word_owner.device) if self.needs_calibration else None)

    @classmethod
    def read_options(cls, context: VerbalizerContext):
        """The context's options as `cls.Options`. A kind that keeps the base `Options` but
        declares more in its schema reads those from `context.options` itself."""
        options = context.options
        if cls.Options is VerbalizerOptions and isinstance(options, dict):
            shared = {f.name for f in fields(VerbalizerOptions)}
            options = {k: v for k, v in options.items() if k in shared}
        return typed(cls.Options, options, f"verbalizer {context.spec.get('kind') or 'manual'}")

    # ---------------------------------------------------------------- label words
    def set_words(self, context: VerbalizerContext, words: list) -> None:
        """(Re)build the flat word tables from `words` (a list of word lists, one per label)."""
        if len(words) != len(self.labels):
            raise ModelError(f"{len(words)} word lists for {len(self.labels)} labels")
        for label, label_words in zip(self.labels, words):
            if not label_words:
                raise ModelError(f"label {label!r} has no label words")
        flat = [w for label_words in words for w in label_words]
        owner = [i for i, label_words in enumerate(words) for _ in label_words]
        table, mask = token_table(context.word_token_ids(flat))
        device = context.backbone.get_output_embeddings().weight.device
        self.words = [list(label_words) for label_words in words]
        self.register_buffer("word_ids", table.to(device), persistent=False)
        self.register_buffer("word_mask", mask.to(device), persistent=False)
        self.register_buffer("word_owner", torch.tensor(owner, device=device), persistent=False)

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    # ---------------------------------------------------------------- sequences
    @property
    def sequences(self) -> tuple:
        """(flat ids, per-word lengths) of the label words as continuations of the prompt (the
        word tables' tokens; a kind with `end_of_sequence` overrides this)."""
        mask = self.word_mask.cpu()
        return self.word_ids.cpu()[mask].tolist(), mask.sum(1).tolist()

    def sequence_scores(self, model, batch: dict) -> torch.Tensor:
        """[B, W]: each word's log-probability as the continuation of each row's prompt, all
        (row, word) pairs in one pass (the prompt runs once for all words)."""
        return model.sequence_log_probs(batch, *self.sequences)

    # ---------------------------------------------------------------- the four steps
    def project(self, mask_logits: torch.Tensor, mask_hidden: torch.Tensor) -> torch.Tensor:
        """[B, V] logits at the mask -> [B, W] one log-probability-like score per word."""
        if self.reads_sequences:
            raise ModelError("this verbalizer reads whole sequences, not the mask's logits: "
                             "score rows through the model")
        logp = torch.log_softmax(mask_logits.float(), dim=-1)
        return pool_tokens(logp[:, self.word_ids], self.word_mask, self.multi_token)

    def normalize(self, word_scores: torch.Tensor) -> torch.Tensor:
        """[B, W] scores -> [B, W] probabilities over the label words."""
        return torch.softmax(word_scores, dim=-1)

    def calibrate(self, word_probs: torch.Tensor) -> torch.Tensor:
        if self.calibration is None:
            return word_probs
        calibrated = word_probs / self.calibration.clamp_min(EPS)
        return calibrated / calibrated.sum(-1, keepdim=True)

    def aggregate(self, word_probs: torch.Tensor) -> torch.Tensor:
        """[B, W] probabilities -> [B, L]: mean log-probability of each label's words."""
        logp = torch.log(word_probs + EPS)
        sums = logp.new_zeros(logp.shape[0], self.num_labels).index_add_(1, self.word_owner, logp)
        counts = torch.bincount(self.word_owner, minlength=self.num_labels).clamp_min(1)
        return sums / counts.to(logp.dtype)

    def from_word_scores(self, word_scores: torch.Tensor) -> torch.Tensor:
        """[B, W] word scores -> [B, L] label scores: normalize → calibrate → aggregate."""
        return self.aggregate(self.calibrate(self.normalize(word_scores)))

    def forward(self, mask_logits: torch.Tensor, mask_hidden: torch.Tensor) -> torch.Tensor:
        return self.from_word_scores(self.project(mask_logits, mask_hidden))

    # ---------------------------------------------------------------- calibration
    @property
    def needs_calibration(self) -> bool:
        return self.calibration_mode != "none"

    def word_probabilities(self, mask_logits, mask_hidden) -> torch.Tensor:
        """[B, W] before calibration (what calibration divides by, averaged)."""
        return self.normalize(self.project(mask_logits, mask_hidden))

    def set_calibration(self, word_probs: torch.Tensor | None) -> None:
        """Divide every later prediction by `word_probs` [W] (None switches calibration off)."""
        self.calibration = None if word_probs is None else word_probs.detach().reshape(-1)

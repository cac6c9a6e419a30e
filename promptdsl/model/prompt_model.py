"""PromptModel (internals §3): template embedder + backbone + verbalizer head, one nn.Module.

Reading the mask. A forward hook on the module that produces the final hidden states (the base
model for mlm / causal, the decoder for seq2seq) cuts them down to the read position before
the LM head runs, so the vocabulary projection is computed for one position per example, not
for every token. This works for any architecture whose head maps hidden states position-wise.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ModelError
from ..families import get as family_rules_of


class PromptModel(nn.Module):
    def __init__(self, task: dict, tokenizer, backbone, family: str, template, soft_prompt):
        super().__init__()
        self.task, self.tokenizer, self.family = task, tokenizer, family
        self.backbone = backbone
        self.template = template
        self.soft_prompt = soft_prompt
        self.verbalizer: nn.Module | None = None
        # a generation task (`target`) has no verbalizer and no labels: the [MASK] slot is
        # where its target text goes (promptdsl.model.generation)
        self.generates = task.get("target") is not None
        self.labels = [] if self.generates else \
            [entry["label"] for entry in task["verbalizer"]["labels"]]
        # methods may add keyword arguments to the backbone call (e.g. past_key_values for
        # prefix-tuning): each hook is fn(batch, kwargs) and edits kwargs in place
        self.backbone_kwargs_hooks: list = []
        # a method that scores rows its own way (chain of thought) sets this in `apply`:
        # row_scorer(rows, **map_rows options) -> (scores [N, L], {column: [value per row]})
        self.row_scorer = None
        # set by a batched sweep or multi-checkpoint prediction: joins this model's backbone
        # reads with other models' over the same backbone (promptdsl.model.shared)
        self.shared_reads = None
        # a method with several soft prompts per row (prompt_mixture) sets an nn.Module here:
        # expand(batch) -> the batch with rows repeated and a "prompt_index" [B'] column,
        # tables(own [n_soft, H]) -> [K, n_soft, H], combine(scores [B', L], batch) -> [B, L]
        self.prompt_set: nn.Module | None = None
        self.prefix_cache_blockers: list = []

    # ---------------------------------------------------------------- structure
    def hf_model(self):
        """The transformers model under any wrapper a method put around it (e.g. PEFT)."""
        model = self.backbone
        while hasattr(model, "get_base_model"):
            inner = model.get_base_model()
            if inner is model:
                break
            model = inner
        return model

    def _read_module(self):
        return self.family_rules.read_module(self.hf_model())

    def transformer_layers(self) -> list:
        """The backbone's transformer blocks in order (encoder blocks, then decoder blocks)."""
        config = self.hf_model().config
        sizes = {getattr(config, key, None) for key in
                 ("num_hidden_layers", "num_layers", "num_decoder_layers", "n_layer")}
        sizes.discard(None)
        found, prefixes = [], []
        for name, module in self.hf_model().named_modules():
            if any(name.startswith(p) for p in prefixes):
                continue
            if isinstance(module, nn.ModuleList) and len(module) in sizes and len(module) and \
                    not isinstance(module[0], (nn.Linear, nn.Embedding, nn.Dropout)):
                found.extend(module)
                prefixes.append(name + ".")
        if not found:   # shared or grouped layers (ALBERT): the longest list of blocks
            lists = [m for m in self.hf_model().modules() if isinstance(m, nn.ModuleList) and
                     len(m) and not isinstance(m[0], (nn.Linear, nn.Embedding, nn.Dropout))]
            found = list(max(lists, key=len)) if lists else []
        return found

    @property
    def family_rules(self):
        """The `promptdsl.families.Family` of this model: what its family means (where the
        prediction is read, padding side, placement rule …)."""
        return family_rules_of(self.family)

    @property
    def device(self) -> torch.device:
        return self.backbone.get_input_embeddings().weight.device

    # ---------------------------------------------------------------- data
    def renderer(self):
        """The data path's Renderer for this model's template (rebuilt when pieces change)."""
        from ..data.api import renderer_for
        return renderer_for(self)

    def encode(self, rows, labels: bool | None = None, pieces: list | None = None):
        """Render + tokenize rows (a Table, dicts, or plain strings for a one-field template)
        into Features (promptdsl.data). Labels (a generation task: targets) are read when
        their columns are there; `labels=True` requires them, `labels=False` ignores them.
        `pieces` renders other template pieces than the model's own (chain of thought's
        stages), with this model's tokenizer and settings, without demonstrations."""
        from ..data.api import encode
        if labels is False:
            rows = _without_labels(rows, self.task["data"]["label"])
        demonstrations = getattr(self, "demonstrations", None)  # set by the prepare phase
        if demonstrations is not None and pieces is None:
            return demonstrations.encode(rows, require_labels=bool(labels))
        features = encode(self, rows, require_labels=bool(labels), pieces=pieces)
        return features.without_targets() if labels is False and features.has_targets \
            else features

    def collate(self, features, indices=None) -> dict:
        from ..data.collator import collate
        return collate(features, indices)

    # ---------------------------------------------------------------- forward
    def input_embeddings(self, batch: dict) -> torch.Tensor:
        """[B, T, H]: hard tokens through the backbone's embeddings, soft positions from the
        soft-token table."""
        embeds = self.backbone.get_input_embeddings()(batch["input_ids"])
        soft_ids = batch.get("soft_ids")
        if soft_ids is None or self.soft_prompt.n_soft == 0:
            return embeds
        table = self.soft_prompt().to(embeds.dtype)
        is_soft = soft_ids >= 0
        index = batch.get("prompt_index")
        if self.prompt_set is not None and index is not None:
            # several soft prompts (a mixture): row b takes table prompt_index[b]
            tables = self.prompt_set.tables(table).to(embeds.dtype)     # [K, n_soft, H]
            soft = tables[index.to(soft_ids.device)[:, None], soft_ids.clamp(min=0)]
        else:
            soft = table[soft_ids.clamp(min=0)]
        return torch.where(is_soft.unsqueeze(-1), soft, embeds)

    def backbone_kwargs(self, batch: dict) -> dict:
        attention = batch["attention_mask"]
        kwargs = {"inputs_embeds": self.input_embeddings(batch), "attention_mask": attention,
                  "return_dict": True}
        kwargs.update(self.family_rules.backbone_kwargs(batch))
        for hook in self.backbone_kwargs_hooks:
            hook(batch, kwargs)
        return kwargs

    def read(self, batch: dict) -> tuple:
        """(mask_logits [B, V], mask_hidden [B, H]) at each example's read position."""
        positions = batch["mask_pos"]
        return self.read_at(batch, torch.arange(positions.shape[0], device=positions.device),
                            positions)

    def read_masks(self, batch: dict) -> tuple:
        """(logits [B, M, V], hidden [B, M, H]) at every mask of the template (a verbalizer
        that reads several masks; the batch's `mask_positions`), in one backbone pass."""
        positions = batch.get("mask_positions")
        if positions is None:
            raise ModelError("the batch has no mask positions: encode the rows with a "
                             "verbalizer that reads every mask")
        rows, masks = positions.shape
        pairs = torch.arange(rows, device=positions.device).repeat_interleave(masks)
        logits, hidden = self.read_at(batch, pairs, positions.reshape(-1))
        return logits.view(rows, masks, -1), hidden.view(rows, masks, -1)

    def read_at(self, batch: dict, rows: torch.Tensor, positions: torch.Tensor,
                heads=None) -> tuple:
        """(logits [N, V], hidden [N, H]) at the N (row, position) pairs of the batch (of the
        decoder's sequence for seq2seq): the LM head runs on those positions only. On a causal
        LM each row's fixed beginning comes from the prefix cache when `cache_plan()` allows
        (promptdsl.model.prefix_cache); models sharing a backbone in one process
        (`shared_reads`) run their reads together. `heads` (group [B], length [G]): rows of
        one group begin with the same `length` tokens, which may run once for the group (the
        candidates of one prompt, `promptdsl.model.filled`)."""
        from .backbone_read import Read, run_read
        read = Read(self.backbone_kwargs(batch), batch["input_ids"],
                    self.fixed_lengths(batch, rows, positions), rows, positions, heads)
        if self.shared_reads is not None:
            return self.shared_reads.read(self, read)
        return run_read(self, read)

    def fixed_lengths(self, batch: dict, rows: torch.Tensor, positions: torch.Tensor):
        """[B] how many leading real tokens of each row no trainable piece reaches: those
        before its first soft token and before the first position read (None: not a
        left-padded causal batch)."""
        rules = self.family_rules
        if not rules.reads_next_token or rules.has_decoder or rules.padding_side != "left":
            return None
        mask = batch["attention_mask"]
        width = mask.shape[1]
        start = width - mask.sum(1)
        limit = torch.full_like(start, width)
        soft = batch.get("soft_ids")
        if soft is not None and self.soft_prompt.n_soft:
            is_soft = soft >= 0
            first = is_soft.long().argmax(1)
            limit = torch.where(is_soft.any(1), first.to(limit), limit)
        read = torch.full_like(start, width).scatter_reduce(
            0, rows.to(start.device), positions.to(start.device), "amin")
        return (torch.minimum(limit, read) - start).clamp(min=0)

    def cache_plan(self):
        """Whether this model may take fixed row beginnings from the prefix cache, and why
        not (promptdsl.model.prefix_cache.plan)."""
        from .prefix_cache import plan
        return plan(self)

    def block_prefix_cache(self, reason: str) -> None:
        """For methods that change what the backbone computes without a parameter in the model
        (a forward hook holding constants): never take row beginnings from the cache."""
        self.prefix_cache_blockers.append(reason)

    def backward(self, loss: torch.Tensor) -> None:
        """`loss.backward()`, joined with the other models' when a backbone is shared."""
        if self.shared_reads is not None:
            self.shared_reads.backward(self, loss)
        else:
            loss.backward()

    def target_losses(self, batch: dict) -> tuple:
        """(rows [N], token losses [N]) of a teacher-forced generation batch: the cross-entropy
        of every target token (`batch["target_labels"]`, see promptdsl.data.collator), the
        vocabulary projected at those positions only."""
        labels = batch.get("target_labels")
        if labels is None:
            raise ModelError("a generation model trains on batches with targets (rows encoded "
                             "with their target fields)")
        from ..data.collator import IGNORE
        rows, positions = (labels != IGNORE).nonzero(as_tuple=True)
        logits, _ = self.read_at(batch, rows, positions)
        gold = labels[rows, positions].to(logits.device)
        return rows, F.cross_entropy(logits.float(), gold, reduction="none")

    def sequence_log_probs(self, batch: dict, flat, lengths) -> torch.Tensor:
        """[B, S]: the log-probability of each of S token sequences (the flat ids `flat`,
        `lengths[s]` of them for sequence s) continuing each row's prompt: the sequence as a
        teacher-forced target (causal: after the prompt, which runs once for all sequences;
        seq2seq: after the decoder prefix, the encoder run once per row), its tokens'
        log-probabilities summed. Every (row, sequence) pair runs in one pass."""
        from .filled import Fills, filled_log_probs
        rows, count = batch["input_ids"].shape[0], len(lengths)
        if not self.family_rules.has_decoder:
            end = torch.full((rows, 1), batch["input_ids"].shape[1], dtype=torch.long)
            return filled_log_probs(self, batch, Fills.at_end(flat, lengths), end)
        from ..data.collator import append_targets
        keep = ("input_ids", "attention_mask", "soft_ids", "mask_pos", "decoder_input_ids",
                "prompt_index")
        expanded = {k: batch[k].repeat_interleave(count, 0) for k in keep if k in batch}
        append_targets(expanded, np.tile(np.asarray(flat, np.int64), rows),
                       np.tile(np.asarray(lengths, np.int64), rows), self.renderer().pad_id)
        # the encoder's states of each row are the same for all its sequences: computed once
        # (a method that edits the backbone call, or a shared backbone, reads them its way)
        hook = None
        if not self.backbone_kwargs_hooks and self.shared_reads is None:
            hook = encoder_once(self, batch, count)
            self.backbone_kwargs_hooks.append(hook)
        try:
            pair, losses = self.target_losses(expanded)
        finally:
            if hook is not None:
                self.backbone_kwargs_hooks.remove(hook)
        sums = losses.new_zeros(rows * count).index_add_(0, pair.to(losses.device), losses)
        return -sums.view(rows, count)

    def filled_log_probs(self, batch: dict, words: list) -> torch.Tensor:
        """[B, C]: on a causal LM, each row with candidate c's words put in at the template's
        masks (`words[c][m]`: token ids for mask m, template order; the batch's
        `mask_positions`), scored as the sum of those words' log-probabilities (PTR's rules)."""
        from .filled import Fills, filled_log_probs
        if "mask_positions" not in batch:
            raise ModelError("filled sequences need the batch's mask positions: encode the "
                             "rows with a verbalizer that reads every mask")
        return filled_log_probs(self, batch, Fills.of(words), batch["mask_positions"])

    def word_scores(self, batch: dict) -> torch.Tensor:
        """[B, W] one score per label word of a verbalizer that `reads_sequences`: each word's
        log-probability as the continuation of the prompt (its `sequence_scores`)."""
        return self.verbalizer.sequence_scores(self, batch)

    def forward(self, batch: dict) -> dict:
        if self.generates:
            _, losses = self.target_losses(batch)
            # the mean over the batch's target tokens (what perplexity is computed from)
            return {"loss": losses.mean(), "tokens": losses.numel()}
        prompt_set = self.prompt_set
        read_batch = batch if prompt_set is None else prompt_set.expand(batch)
        if getattr(self.verbalizer, "reads_sequences", False):
            scores = self.verbalizer.from_word_scores(self.word_scores(read_batch))
        elif getattr(self.verbalizer, "reads_masks", False):
            scores = self.verbalizer(*self.read_masks(read_batch))
        else:
            scores = self.verbalizer(*self.read(read_batch))
        if prompt_set is not None:
            scores = prompt_set.combine(scores, read_batch)
        out = {"logits": scores}
        if batch.get("labels") is not None:
            out["loss"] = F.cross_entropy(scores.float(), batch["labels"].to(scores.device))
        return out

    # ---------------------------------------------------------------- prediction
    def scores(self, rows, batch_size: int | None = None) -> torch.Tensor:
        """[N, L] label scores for rows, in row order (through a method's `row_scorer` when
        one is installed, e.g. chain of thought)."""
        from .rows import score_rows
        return score_rows(self, rows, batch_size=batch_size)[0]

    def predict(self, texts_or_rows, batch_size: int | None = None) -> list:
        """Label values predicted for plain texts (one-field templates) or row dicts."""
        from .rows import predict_labels
        return predict_labels(self, texts_or_rows, batch_size)

    def calibrate(self, rows=None, batch_size: int | None = None) -> None:
        """Set the verbalizer's calibration (when its `calibrate` option asks for one):
        `contextual` averages the word probabilities on content-free inputs (every field "N/A",
        then empty; Zhao et al. 2021), `prior` over `rows` (unlabelled data)."""
        verbalizer = self.verbalizer
        if not getattr(verbalizer, "needs_calibration", False):
            return
        from .rows import map_rows
        verbalizer.set_calibration(None)
        if verbalizer.calibration_mode == "contextual" or rows is None:
            fields = list(dict.fromkeys(self.renderer().fields))
            rows = [{f: value for f in fields} for value in ("N/A", "")]
        def measured(batch):
            if getattr(verbalizer, "reads_sequences", False):
                return verbalizer.normalize(self.word_scores(batch))
            return verbalizer.word_probabilities(*self.read(batch))
        probs = map_rows(self, rows, measured, batch_size=batch_size)
        verbalizer.set_calibration(probs.mean(0).to(self.device))

    # ---------------------------------------------------------------- checkpoints
    def trainable_state_dict(self) -> dict:
        """The parameters that require grad, plus the verbalizer's persistent buffers (what
        its prepare phase measured: calibration, kept or found words) — what a checkpoint
        stores."""
        state = {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}
        if self.verbalizer is not None:
            state.update({f"verbalizer.{name}": b.detach() for name, b in
                          self.verbalizer.state_dict(keep_vars=True).items()
                          if name not in dict(self.verbalizer.named_parameters())})
        return state


def encoder_once(model: PromptModel, batch: dict, count: int):
    """A backbone-kwargs hook that hands a seq2seq model the encoder states of `batch`'s rows,
    computed here once, each repeated for the `count` rows of it in an expanded batch."""
    from transformers.modeling_outputs import BaseModelOutput
    kwargs = model.backbone_kwargs(batch)
    encoder = model.hf_model().get_encoder()
    states = encoder(inputs_embeds=kwargs["inputs_embeds"], attention_mask=kwargs["attention_mask"],
                     return_dict=True).last_hidden_state.repeat_interleave(count, 0)

    def hook(_batch, expanded_kwargs):
        expanded_kwargs.pop("inputs_embeds", None)
        expanded_kwargs["encoder_outputs"] = BaseModelOutput(last_hidden_state=states)
    return hook


def _without_labels(rows, column):
    if column is None or isinstance(rows, (str, dict)) or not isinstance(rows, (list, tuple)):
        return rows
    return [{k: v for k, v in r.items() if k != column} if isinstance(r, dict) else r
            for r in rows]

"""The cloze loop a user writes by hand over a transformers model (the floor, and PEFT's column).

Render the template with Python string formatting, tokenize the batch with the fast tokenizer,
pad (right for masked LMs, left for causal LMs), read the LM head's logits at the mask (the mask
token for a masked LM, the last position for a causal LM), keep the label words' columns, and
take the cross-entropy against the label.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .sst2 import LABEL_WORDS, TEMPLATES


def label_word_ids(tokenizer, words=LABEL_WORDS) -> torch.Tensor:
    """First token of each label word as the model predicts it after a space."""
    return torch.tensor([tokenizer(" " + w, add_special_tokens=False)["input_ids"][0]
                         for w in words.values()])


def render(sentences, family: str, mask_token: str | None) -> list:
    template = TEMPLATES[family]
    if family == "causal":
        return [template.format(sentence=s).replace(" [MASK]", "") for s in sentences]
    return [template.format(sentence=s).replace("[MASK]", mask_token) for s in sentences]


def encode(tokenizer, family: str, sentences, labels=None, max_length: int = 128) -> dict:
    """A padded batch: input_ids, attention_mask, mask_pos, labels (label indices)."""
    tokenizer.padding_side = "left" if family == "causal" else "right"
    texts = render(sentences, family, tokenizer.mask_token)
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                    return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    if family == "causal":
        batch["mask_pos"] = torch.full((len(texts),), enc["input_ids"].shape[1] - 1)
    else:
        batch["mask_pos"] = (enc["input_ids"] == tokenizer.mask_token_id).int().argmax(1)
    if labels is not None:
        order = list(LABEL_WORDS)
        batch["labels"] = torch.tensor([order.index(y) for y in labels])
    return batch


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens (left padding starts them at the first real token)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def model_inputs(batch: dict, family: str, inputs_embeds=None) -> dict:
    kwargs = {"attention_mask": batch["attention_mask"]}
    if inputs_embeds is not None:
        kwargs["inputs_embeds"] = inputs_embeds
    else:
        kwargs["input_ids"] = batch["input_ids"]
    if family == "causal":
        # the next-token logits at the last position are all a causal cloze reads
        kwargs["position_ids"] = position_ids(batch["attention_mask"])
        kwargs["logits_to_keep"] = 1
    return kwargs


def label_logits(model, batch: dict, family: str, word_ids: torch.Tensor,
                 inputs_embeds=None) -> torch.Tensor:
    logits = model(**model_inputs(batch, family, inputs_embeds)).logits
    rows = torch.arange(logits.shape[0], device=logits.device)
    at_mask = logits[:, -1] if family == "causal" else logits[rows, batch["mask_pos"]]
    return at_mask[:, word_ids.to(logits.device)]


def loss(model, batch, family, word_ids, inputs_embeds=None) -> torch.Tensor:
    scores = label_logits(model, batch, family, word_ids, inputs_embeds)
    return F.cross_entropy(scores.float(), batch["labels"])

"""Soft-token methods: `prompt_tuning` and `ptuning` (see their modules)."""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from promptdsl.errors import ModelError
from promptdsl.runtime import write_safetensors

EXPORT_FILE = "ptuning_embeddings.safetensors"


def _own_default_rows(template) -> list[int]:
    """Soft-table rows of template pieces that have no init text of their own."""
    rows = []
    for piece in template.soft_pieces():
        if not piece.get("init"):
            rows.extend(range(piece["first"], piece["first"] + piece["count"]))
    return rows


def apply_prompt_tuning(model, options) -> None:
    from .prompt_tuning import DEFAULT_LENGTH_WITHOUT_SOFT_TOKENS
    # the backbone stays as compile or an earlier method left it (frozen unless made trainable)
    template, soft = model.template, model.soft_prompt
    rows = _own_default_rows(template)
    if rows and options.init != "vocab":       # "vocab" is how the template already starts them
        soft.initialize(rows, options.init, model.backbone.get_input_embeddings().weight,
                        tokenizer=model.tokenizer,
                        special_ids=getattr(soft, "special_ids", ()),
                        generator=getattr(soft, "generator", None))
    length = options.length
    if length is None:
        length = DEFAULT_LENGTH_WITHOUT_SOFT_TOKENS if template.n_soft == 0 else 0
    if length:
        template.prepend_soft(length, init=options.init)
    if soft.n_soft == 0:
        raise ModelError("prompt_tuning: nothing to train: `length: 0` and the template "
                                "has no <soft> tokens")
    soft.weight.requires_grad_(True)


class PromptEncoder(nn.Module):
    """P-tuning's prompt encoder over the soft-token table [n, H] -> [n, H]: a 2-layer
    bidirectional LSTM then a 2-layer MLP (`lstm`, as in the paper's code), or the MLP alone."""

    def __init__(self, kind: str, size: int, hidden: int):
        super().__init__()
        self.lstm = None
        width = size
        if kind == "lstm":
            half = max(1, hidden // 2)
            self.lstm = nn.LSTM(size, half, num_layers=2, bidirectional=True, batch_first=True)
            width = 2 * half
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, size))

    def forward(self, table: torch.Tensor) -> torch.Tensor:
        x = table.to(self.mlp[0].weight.dtype)
        if self.lstm is not None:
            x = self.lstm(x.unsqueeze(0))[0].squeeze(0)
        return self.mlp(x).to(table.dtype)


def apply_ptuning(model, options) -> None:
    soft = model.soft_prompt
    if soft.n_soft == 0:
        raise ModelError(
            "ptuning: the template has no soft tokens for the prompt encoder; add some, e.g. "
            "template: \"<soft*3> {sentence} <soft> It was [MASK]\"")
    if not isinstance(soft.encoder, nn.Identity):
        raise ModelError("ptuning: the soft tokens already have an encoder (is `ptuning` "
                                "given twice?)")
    if not options.freeze_model:       # freeze_model only leaves the model alone: never freeze
        model.backbone.requires_grad_(True)   # what an earlier method made trainable
    soft.weight.requires_grad_(True)
    if options.encoder != "none":
        size = soft.weight.shape[1]
        encoder = PromptEncoder(options.encoder, size, options.hidden or size)
        soft.encoder = encoder.to(device=soft.weight.device)


@torch.no_grad()
def save_ptuning_export(model, directory) -> Path:
    """Write the encoder's output, the [n_soft, H] embeddings the template uses: all a trained
    P-tuning prompt needs at inference (see `load_ptuning_export`)."""
    was_training = model.soft_prompt.training
    model.soft_prompt.eval()
    try:
        embeddings = model.soft_prompt().detach().to("cpu").contiguous()
    finally:
        model.soft_prompt.train(was_training)
    path = Path(directory) / EXPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors({"embeddings": embeddings}, path)
    return path


@torch.no_grad()
def load_ptuning_export(model, directory) -> None:
    """Put exported embeddings into `model`'s soft-token table and drop the prompt encoder.

    `model` is compiled from the same task (with or without its methods applied); it then
    predicts as the trained model did. With `freeze_model: false` the language model trained
    too, so load the checkpoint's tensors first (promptdsl.train.checkpoint.load_trainable)."""
    path = Path(directory)
    path = path / EXPORT_FILE if path.is_dir() else path
    try:
        embeddings = load_file(str(path))["embeddings"]
    except (OSError, KeyError) as exc:
        raise ModelError(f"{path}: not a P-tuning export ({exc})") from exc
    soft = model.soft_prompt
    if tuple(embeddings.shape) != tuple(soft.weight.shape):
        raise ModelError(f"{path}: holds {tuple(embeddings.shape)} embeddings, the model's "
                                f"soft-token table is {tuple(soft.weight.shape)}")
    soft.encoder = nn.Identity()
    soft.weight = nn.Parameter(embeddings.to(soft.weight.device, soft.weight.dtype),
                               requires_grad=False)

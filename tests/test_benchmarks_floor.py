"""Figure 1 compares equal work: on the same batch, the PromptModel, the raw-model floor and the
head-at-mask floor compute the same loss (a finetune task without soft tokens, where all three
read the same logits), and every candidate's train step leaves gradients in the model."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import floor, handwritten, models, overhead, sst2  # noqa: E402
from benchmarks.context import Context  # noqa: E402

SENTENCES = ["a charming and often affecting journey", "utterly bleak and desperate",
             "the acting is astounding", "it is slow , very slow", "a great film",
             "a terrible mess"] * 4


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sst2")
    for name in ("train", "dev"):
        split = sst2.Split(SENTENCES, ["1", "0"] * (len(SENTENCES) // 2), folder)
        sst2.write_split(split, folder / f"{name}.tsv")
    return folder


@pytest.mark.parametrize("name", ["bert-tiny", "llama-tiny"])
def test_candidates_compute_the_same_loss(name, data_folder, monkeypatch, tmp_path):
    monkeypatch.setattr(models, "CACHE", tmp_path)
    monkeypatch.setattr(overhead, "TEMPLATES", {f: sst2.TEMPLATES[f] for f in sst2.TEMPLATES})
    ctx = Context(quick=True, data=str(data_folder))
    size = models.TINY[name]
    model = overhead.compile_model(ctx, size, "finetune")
    assert model.soft_prompt.n_soft == 0
    rows = [{"sentence": s, "label": y} for s, y in zip(SENTENCES[:4], ["1", "0", "1", "0"])]
    batch = model.collate(model.encode(rows, labels=True))
    word_ids = overhead.word_ids_of(model)
    model.eval()   # no dropout: the losses must match exactly
    with torch.no_grad():
        ours = float(model(batch)["loss"])
        raw = float(handwritten.loss(model.backbone, batch, size.family, word_ids))
    assert ours == pytest.approx(raw, rel=1e-4, abs=1e-5)

    for candidate, (train_step, _) in overhead.steps_for(ctx, model, batch, size,
                                                        word_ids).items():
        model.zero_grad(set_to_none=True)
        train_step()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), candidate


def test_floor_input_grad_reaches_a_trainable_embedding_matrix():
    size = models.TINY["bert-tiny"]
    texts = SENTENCES + ["It was great .", "It was terrible ."]
    tokenizer = models.build_tokenizer(size, texts)
    bert = models.build_model(size, tokenizer)
    batch = handwritten.encode(tokenizer, "mlm", SENTENCES[:4], ["1", "0", "1", "0"])
    train_step, _ = floor.floor_steps(bert, batch, "mlm", handwritten.label_word_ids(tokenizer),
                                      torch.device("cpu"), None, input_grad=True)
    train_step()
    assert bert.get_input_embeddings().weight.grad is not None

"""PETAL-style label-word search (Schick, Schmid & Schütze 2020): pick, for each label, the
vocabulary tokens whose probability at the mask is highest on that label's training examples
relative to the others' (a likelihood ratio), each token going to at most one label."""
from __future__ import annotations

import torch


def word_like_tokens(tokenizer, candidates: torch.Tensor, mask_space: bool) -> torch.Tensor:
    """The candidate ids that are whole alphabetic words as the model predicts them at the mask:
    the token decodes to a word that the label-word rule tokenizes back into exactly this one
    token (so no sub-word pieces, digits, punctuation or special tokens)."""
    from promptdsl.data import label_word_ids
    special = set(tokenizer.all_special_ids)
    ids = [i for i in candidates.tolist() if i not in special]
    texts = [tokenizer.decode([i]).strip() for i in ids]
    pairs = [(i, t) for i, t in zip(ids, texts) if len(t) > 1 and t.isalpha()]
    back = label_word_ids(tokenizer, [t for _, t in pairs], mask_space) if pairs else []
    return torch.tensor([i for (i, _), ids_back in zip(pairs, back) if ids_back == [i]],
                        dtype=torch.long)


def likelihood_ratio(probs: torch.Tensor, labels: torch.Tensor, n_labels: int) -> torch.Tensor:
    """[L, V]: log mean probability of each token on a label's examples minus on the others'."""
    eps = 1e-12
    ratios = []
    for y in range(n_labels):
        inside, outside = probs[labels == y], probs[labels != y]
        if len(inside) == 0 or len(outside) == 0:
            ratios.append(torch.zeros(probs.shape[1]))
            continue
        ratios.append((inside.mean(0) + eps).log() - (outside.mean(0) + eps).log())
    return torch.stack(ratios)


def search_label_words(probs: torch.Tensor, labels: torch.Tensor, n_labels: int,
                       candidate_ids: torch.Tensor, per_label: int) -> list[list[int]]:
    """Token ids per label. `probs` [N, V] over the full vocabulary; `labels` [N] label index;
    only `candidate_ids` are considered."""
    ratio = likelihood_ratio(probs[:, candidate_ids], labels, n_labels)    # [L, C]
    best_label = ratio.argmax(0)                                            # each token: one label
    chosen = []
    for y in range(n_labels):
        score = torch.where(best_label == y, ratio[y], torch.full_like(ratio[y], -float("inf")))
        order = score.argsort(descending=True)[:per_label]
        chosen.append([int(candidate_ids[i]) for i in order if score[i] > -float("inf")])
    return chosen

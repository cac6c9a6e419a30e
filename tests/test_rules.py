"""PTR's rules over several masks (`verbalizer rules`) at run time: a masked LM reads every mask
in one pass and each mask's words are normalised over its answers; a causal LM scores each
class's filled sequence. Both against a computation by hand from the backbone's own logits;
the candidates' shared prompt (run once per row) against the fully expanded read, gradients
included; training changes the predictions under prompt tuning and LoRA."""
from __future__ import annotations

import pytest
import torch

import tiny
from promptdsl.model import backbone_read, packed
from promptdsl.model.compile import compile_task

TEMPLATE = "{sentence} The [MASK:e1] {e1} is [MASK:rel] the [MASK:e2] {e2}"
RULES = {   # label -> (e1, rel, e2)
    "A(e1,e2)": ("great", "good", "bad"),
    "A(e2,e1)": ("bad", "good", "great"),
    "Other": ("maybe", "very poor", "maybe"),      # a two-token word on a middle mask
}
ROWS = [{"sentence": s, "e1": e1, "e2": e2, "relation": r} for s, e1, e2, r in [
    ("the movie was great", "movie", "film", "A(e1,e2)"),
    ("it was a terrible film", "film", "movie", "A(e2,e1)"),
    ("what a question", "question", "answer", "Other"),
    ("the world of sports and business", "world", "business", "A(e1,e2)"),
    ("this is really quite fine", "sentence", "review", "Other"),
    ("an awful , poor movie", "movie", "review", "A(e2,e1)"),
]]
NAMES = ("e1", "rel", "e2")


def rules_task(model_dir, template=TEMPLATE, methods=None, answers=None, multi_token="mean"):
    task = tiny.make_task(model_dir, template, {k: list(v) for k, v in RULES.items()},
                          label_column="relation", methods=methods,
                          verbalizer_kind="rules")
    options = {"multi_token": multi_token, "answers": answers}
    task["verbalizer"]["options"] = tiny.filled_options("verbalizers", "rules", options)
    task["verbalizer"]["labels"] = [{"label": k, "words": list(v), "masks": list(NAMES)}
                                    for k, v in RULES.items()]
    return task


def token_ids(tokenizer, word: str) -> list:
    return tokenizer(" " + word, add_special_tokens=False)["input_ids"]


def test_masked_lm_reads_every_mask_and_sums_normalised_answers(tiny_model_dir):
    model = compile_task(rules_task(tiny_model_dir("bert"), TEMPLATE + " .",
                                    multi_token="first"))
    tokenizer = model.tokenizer
    batch = model.collate(model.encode(ROWS))
    with torch.no_grad():
        logits = model.backbone(input_ids=batch["input_ids"],
                                attention_mask=batch["attention_mask"]).logits
        got = model.scores(ROWS)
    expected = torch.zeros(len(ROWS), len(RULES))
    for b in range(len(ROWS)):
        at = (batch["input_ids"][b] == tokenizer.mask_token_id).nonzero().flatten()
        assert len(at) == 3
        for m, position in enumerate(at.tolist()):
            logp = torch.log_softmax(logits[b, position].float(), -1)
            answers = list(dict.fromkeys(rule[m] for rule in RULES.values()))
            first = torch.tensor([tokenizer(a, add_special_tokens=False)["input_ids"][0]
                                  for a in answers])
            normalised = torch.log_softmax(logp[first], -1)
            for c, rule in enumerate(RULES.values()):
                expected[b, c] += normalised[answers.index(rule[m])]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_answers_widen_each_masks_normalisation(tiny_model_dir):
    base = compile_task(rules_task(tiny_model_dir("bert"), TEMPLATE + " ."))
    extra = [{"e1": w} for w in ("great", "bad", "maybe", "yes", "no")] + \
        [{"rel": w} for w in ("good", "very poor")] + [{"e2": w} for w in ("bad", "great", "maybe")]
    wide = compile_task(rules_task(tiny_model_dir("bert"), TEMPLATE + " .", answers=extra))
    with torch.no_grad():
        narrow_scores, wide_scores = base.scores(ROWS), wide.scores(ROWS)
    assert wide.verbalizer.answers[0] == ["great", "bad", "maybe", "yes", "no"]
    # two more answers at e1 take probability away from every class
    assert bool((wide_scores < narrow_scores - 1e-4).all())


def filled_by_hand(model, row_ids: list, points: list, words: list) -> list:
    out, last = [], 0
    for point, word in zip(points, words):
        out += row_ids[last:point] + word
        last = point
    return out + row_ids[last:]


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_causal_lm_scores_each_class_filled_sequence(tiny_model_dir, name):
    model = compile_task(rules_task(tiny_model_dir(name)))
    tokenizer = model.tokenizer
    features = model.encode(ROWS)
    with torch.no_grad():
        got = model.scores(ROWS)
    for b in range(len(ROWS)):
        start, end = features.offsets[b], features.offsets[b + 1]
        ids = features.ids[start:end].tolist()
        points = features.masks_rel[b].tolist()
        for c, rule in enumerate(RULES.values()):
            words = [token_ids(tokenizer, w) for w in rule]
            filled = filled_by_hand(model, ids, points, words)
            text = tokenizer.decode(filled)
            assert f"The {rule[0]} {ROWS[b]['e1']} is {rule[1]} the {rule[2]} " \
                   f"{ROWS[b]['e2']}" in text
            with torch.no_grad():
                logits = model.backbone(input_ids=torch.tensor([filled])).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            total, cursor, last = 0.0, 0, 0
            for point, word in zip(points, words):
                cursor += point - last
                for k, token in enumerate(word):
                    total += float(logp[cursor + k - 1, token])
                cursor += len(word)
                last = point
            assert abs(float(got[b, c]) - total) < 1e-4, (b, c)


def grads_of(model, rows):
    model.zero_grad()
    batch = model.collate(model.encode(rows))
    loss = model(batch)["loss"]
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                           if p.requires_grad and p.grad is not None}


@pytest.mark.parametrize("path", ["packed", "shared_heads"])
@pytest.mark.parametrize("method", [{"name": "prompt_tuning", "options": {"length": 3}},
                                    {"name": "lora", "options": {"r": 2, "dropout": 0.0}}])
def test_shared_prompt_equals_expanded_read_with_gradients(tiny_model_dir, monkeypatch, method,
                                                           path):
    """The prompt of a row's candidates runs once — all candidates packed in one sequence
    with a block mask, or (a backbone that does not take the mask) the prompt's key/value
    states handed to one filled row per candidate — and equals one whole filled row per
    candidate, gradients included."""
    task = rules_task(tiny_model_dir("llama"), methods=[method])
    shared, expanded = compile_task(task), compile_task(task)
    expanded.load_state_dict(shared.state_dict())
    expanded.block_prefix_cache("test: the fully expanded read")
    if path == "shared_heads":
        shared._packs = False                 # as if the probe had found the mask ignored
    calls = {"packed": [], "shared_heads": []}
    real_heads, real_packed = backbone_read._shared_heads, packed.packed_log_probs
    monkeypatch.setattr(backbone_read, "_shared_heads",
                        lambda *a: calls["shared_heads"].append(1) or real_heads(*a))
    monkeypatch.setattr(packed, "packed_log_probs",
                        lambda *a: calls["packed"].append(1) or real_packed(*a))
    loss_s, grads_s = grads_of(shared, ROWS)
    assert calls[path], f"the candidates of a row did not share their prompt ({path})"
    assert shared._packs is (path == "packed")
    for key in calls:
        calls[key].clear()
    loss_e, grads_e = grads_of(expanded, ROWS)
    assert not calls["packed"] and not calls["shared_heads"]
    torch.testing.assert_close(loss_s, loss_e, atol=1e-5, rtol=0)
    assert grads_s.keys() == grads_e.keys() and grads_s
    for key in grads_s:
        torch.testing.assert_close(grads_s[key], grads_e[key], atol=1e-5, rtol=1e-4)
    assert max(float(g.abs().max()) for g in grads_s.values()) > 1e-6
    monkeypatch.setattr(backbone_read, "PAST_BYTES", 1)     # one row's past laid out at a time
    loss_sliced, grads_sliced = grads_of(shared, ROWS)
    torch.testing.assert_close(loss_sliced, loss_e, atol=1e-5, rtol=0)
    for key in grads_sliced:
        torch.testing.assert_close(grads_sliced[key], grads_e[key], atol=1e-5, rtol=1e-4)


def test_a_backbone_that_ignores_the_block_mask_keeps_filled_rows(tiny_model_dir,
                                                                  monkeypatch):
    """The first packed read is compared with filled rows: a model whose attention ignored the
    mask (simulated: a plain causal mask) is not packed, and its scores stay right."""
    model = compile_task(rules_task(tiny_model_dir("gpt2")))
    reference = compile_task(rules_task(tiny_model_dir("gpt2")))
    reference.block_prefix_cache("test: the fully expanded read")

    def plain_causal(block, dtype):
        length = block.shape[1]
        allowed = torch.ones(length, length, dtype=torch.bool).tril()
        return torch.zeros(block.shape[0], 1, length, length, dtype=dtype).masked_fill(
            ~allowed, torch.finfo(dtype).min)
    monkeypatch.setattr(packed, "block_mask", plain_causal)
    with torch.no_grad():
        got, expected = model.scores(ROWS), reference.scores(ROWS)
    assert model._packs is False
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def loss_of(model, rows) -> float:
    with torch.no_grad():
        return float(model(model.collate(model.encode(rows, labels=True)))["loss"])


@pytest.mark.parametrize("name,method,lr", [
    ("bert", {"name": "finetune", "options": {}}, 2e-3),
    ("llama", {"name": "prompt_tuning", "options": {"length": 3}}, 0.05),
    ("bert", {"name": "lora", "options": {"r": 2, "dropout": 0.0}}, 0.05),
    ("llama", {"name": "lora", "options": {"r": 2, "dropout": 0.0}}, 0.1),
])
def test_rules_train_and_change_predictions(tiny_model_dir, name, method, lr):
    template = TEMPLATE + (" ." if tiny.FAMILY_OF[name] == "mlm" else "")
    torch.manual_seed(0)                    # LoRA's and the head's initial weights
    model = compile_task(rules_task(tiny_model_dir(name), template, methods=[method]))
    with torch.no_grad():
        before = model.scores(ROWS)
    first_loss = loss_of(model, ROWS)
    tiny.adam_steps(model, model.collate(model.encode(ROWS, labels=True)), 20, lr)
    with torch.no_grad():
        after = model.scores(ROWS)
    assert loss_of(model, ROWS) < first_loss - 0.05
    gold = torch.tensor([list(RULES).index(r["relation"]) for r in ROWS])
    assert float((after - before).abs().max()) > 1e-2
    assert (after.argmax(-1) == gold).sum() >= (before.argmax(-1) == gold).sum()
    if method["name"] != "prompt_tuning":   # three soft tokens move a tiny random LM's scores
        assert (after.argmax(-1) != before.argmax(-1)).any()   # but not past its bias

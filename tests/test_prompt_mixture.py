"""`method prompt_mixture` (Qin & Eisner 2021): K soft prompts trained together, their label
distributions mixed. The mixing math against a hand computation, K identical prompts equal one,
training moves the prompts and the weights, a checkpoint predicts identically (Python and
`promptc eval`), the K copies of a row share its cached prefix, bad options and combinations are
clear errors."""
from __future__ import annotations

import csv
import math

import pytest
import torch
from click.testing import CliRunner

import tiny
from promptdsl.api import check, load
from promptdsl.cli import main
from promptdsl.errors import ModelError
from promptdsl.model import prefix_cache
from promptdsl.model.compile import compile_task
from promptdsl.train.checkpoint import load_checkpoint
from promptdsl.train.runner import train_task
from promptdsl_plugins.methods._mixture import mix

ROWS = [{"sentence": s, "label": label} for s, label in tiny.SST2_ROWS]
TEMPLATE = "{sentence} <soft*3> It was [MASK]"


def mixture(**options):
    return {"name": "prompt_mixture", "options": {"prompts": 3, **options}}


def build(tiny_model_dir, template=TEMPLATE, train_options=None, model="llama", **options):
    task = tiny.make_task(tiny_model_dir(model), template,
                          methods=[mixture(**options)], train_options=train_options)
    return compile_task(task)


def train_steps(model, steps=4, lr=5e-2):
    tiny.adam_steps(model, model.collate(model.encode(ROWS)), steps, lr)


def test_mix_is_the_log_of_the_weighted_mean_of_probabilities():
    scores = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0],      # row 0, prompts 0 1 2
                           [-1.0, 1.0], [0.5, 0.0], [0.0, 0.0]])    # row 1
    weights = [0.5, 0.3, 0.2]
    by_hand = []
    for row in range(2):
        p = [sum(w * math.exp(s[y]) / sum(math.exp(v) for v in s)
                 for w, s in zip(weights, scores[3 * row:3 * row + 3].tolist()))
             for y in range(2)]
        by_hand.append([math.log(v) for v in p])
    got = mix(scores, torch.log(torch.tensor(weights)))
    torch.testing.assert_close(got, torch.tensor(by_hand), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("model_name", ("llama", "bert", "t5"))
def test_k_identical_prompts_give_the_single_prompts_probabilities(tiny_model_dir, model_name):
    model = build(tiny_model_dir, model=model_name)
    with torch.no_grad():
        model.prompt_set.prompts.copy_(model.soft_prompt.weight.expand(2, -1, -1))
        model.prompt_set.logits.copy_(torch.tensor([0.3, -1.0, 2.0]))   # any weights
    mixed = model.scores(ROWS)
    model.prompt_set = None
    single = model.scores(ROWS).log_softmax(-1)
    torch.testing.assert_close(mixed, single, atol=1e-5, rtol=1e-5)


def test_the_prompts_start_apart_and_hold_only_the_mixtures_parameters(tiny_model_dir):
    model = build(tiny_model_dir, prompts=4)
    trainable = {n: tuple(p.shape) for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"soft_prompt.weight": (3, 32), "prompt_set.prompts": (3, 3, 32),
                         "prompt_set.logits": (4,)}
    tables = model.prompt_set.tables(model.soft_prompt.weight)
    for a in range(4):
        for b in range(a):
            assert not torch.allclose(tables[a], tables[b])
    # the same seed draws the same prompts
    torch.testing.assert_close(build(tiny_model_dir, prompts=4).prompt_set.prompts,
                               model.prompt_set.prompts)


def test_training_moves_prompts_and_learned_weights_but_not_the_mean(tiny_model_dir):
    learned, mean = build(tiny_model_dir), build(tiny_model_dir, combine="mean")
    assert "prompt_set.logits" not in dict(mean.named_parameters())
    assert "prompt_set.logits" not in mean.trainable_state_dict()
    torch.testing.assert_close(learned.scores(ROWS), mean.scores(ROWS))   # both start uniform
    start = {n: p.detach().clone() for n, p in learned.named_parameters() if p.requires_grad}
    before = learned.scores(ROWS)
    train_steps(learned)
    train_steps(mean)
    for name, value in start.items():
        assert not torch.allclose(value, dict(learned.named_parameters())[name]), name
    assert not torch.allclose(before, learned.scores(ROWS), atol=1e-4)
    torch.testing.assert_close(mean.prompt_set.logits, torch.zeros(3))
    assert not torch.allclose(learned.scores(ROWS), mean.scores(ROWS), atol=1e-4)


PROMPT = """task mix {{
  model: "{model}"
  data {{ train: "rows.tsv", test: "rows.tsv", label: label }}
  template: "{{sentence}} <soft*3> It was [MASK]"
  verbalizer {{ "0": "terrible"  "1": "great" }}
  method prompt_mixture {{ prompts: 3, combine: learned }}
  train {{ epochs: 2, batch_size: 4, learning_rate: 0.05, device: cpu }}
}}
"""


def test_a_trained_checkpoint_reloads_and_predicts_identically(tmp_path, tiny_model_dir):
    tiny.write_tsv(tmp_path, tiny.SST2_ROWS, name="rows.tsv")
    path = tmp_path / "mix.prompt"
    path.write_text(PROMPT.format(model=tiny_model_dir("llama")))
    task = load(str(path))
    summary = train_task(task, out=tmp_path / "run", progress=False, echo=lambda _: None)
    fresh = compile_task(task)
    model = load_checkpoint(tmp_path / "run")
    for name in ("prompt_set.prompts", "prompt_set.logits", "soft_prompt.weight"):
        assert not torch.allclose(dict(fresh.named_parameters())[name],
                                  dict(model.named_parameters())[name]), name
    written = probabilities(tmp_path / "run" / "predictions.tsv")    # by the trained model
    torch.testing.assert_close(model.scores(ROWS).exp(), torch.tensor(written), atol=1e-5,
                               rtol=1e-5)
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["eval", str(path), "--checkpoint", str(run)])
    assert result.exit_code == 0, result.output
    assert f"{100 * summary['test']['accuracy']:.2f}" in result.output.splitlines()[-1]
    result = CliRunner().invoke(main, ["predict", str(path), "--checkpoint", str(run), "--input",
                                       str(tmp_path / "rows.tsv"), "--output",
                                       str(tmp_path / "again.tsv")])
    assert result.exit_code == 0, result.output
    assert probabilities(tmp_path / "again.tsv") == written


def probabilities(path) -> list:
    with open(path, encoding="utf-8") as handle:
        return [[float(r["p(0)"]), float(r["p(1)"])]
                for r in csv.DictReader(handle, delimiter="\t")]


def test_the_copies_of_a_row_share_its_cached_prefix(tiny_model_dir):
    task = tiny.make_task(tiny_model_dir("llama"), TEMPLATE, methods=[mixture()])
    model = compile_task(task)
    single = compile_task({**task, "methods": [{"name": "prompt_tuning",
                                               "options": {"length": 0, "init": "vocab"}}]})
    assert model.cache_plan().enabled
    cached = model.scores(ROWS)
    # one evaluation: the K copies of a row make it read more than once, so it is computed
    # once and stored at once; the single prompt stores its rows from their second read
    single.scores(ROWS)
    single.scores(ROWS)
    mixed, alone = prefix_cache.stats_of(model), prefix_cache.stats_of(single)
    assert mixed["misses"] == len(ROWS) and mixed["entries"] == alone["entries"] == len(ROWS)
    assert mixed["computed_tokens"] == alone["computed_tokens"] > 0
    model.scores(ROWS)
    single.scores(ROWS)
    mixed, alone = prefix_cache.stats_of(model), prefix_cache.stats_of(single)
    assert mixed["hits"] == alone["hits"] == len(ROWS)
    # every copy of a row takes its beginning from the one entry, instead of running it
    assert mixed["reused_tokens"] == model.prompt_set.count * alone["reused_tokens"] > 0
    uncached = compile_task({**task, "train": {**task["train"], "prefix_cache": False}})
    torch.testing.assert_close(uncached.scores(ROWS), cached, atol=1e-5, rtol=1e-5)


def test_a_sequence_scoring_verbalizer_reads_every_prompt(tiny_model_dir):
    task = tiny.make_task(tiny_model_dir("llama"), TEMPLATE, methods=[mixture()])
    task["verbalizer"] = {**task["verbalizer"], "kind": "generation",
                          "options": {"calibrate": "none"}}
    model = compile_task(task)
    before = model.scores(ROWS)
    with torch.no_grad():
        model.prompt_set.prompts[0].add_(1.0)       # prompt 1 only
    assert not torch.allclose(model.scores(ROWS), before, atol=1e-4)


def test_impossible_mixtures_are_refused_saying_what_to_do(tiny_model_dir):
    with pytest.raises(ModelError, match="`length: 0` and the template has no <soft>"):
        build(tiny_model_dir, "{sentence} It was [MASK]", length=0)
    with pytest.raises(ModelError, match="start, and train, identically"):
        build(tiny_model_dir, "{sentence} <soft 'It was'> [MASK]")
    with pytest.raises(ModelError, match="a mixture needs 2 to 32 prompts"):
        build(tiny_model_dir, prompts=1)
    task = tiny.make_task(tiny_model_dir("llama"), TEMPLATE,
                          methods=[mixture(), mixture()])
    with pytest.raises(ModelError, match="already reads every row with several prompts"):
        compile_task(task)
    task = tiny.make_task(tiny_model_dir("llama"), TEMPLATE, methods=[mixture()],
                          verbalizer_options={"calibrate": "contextual"})
    with pytest.raises(ModelError, match="calibrate: none"):
        compile_task(task)
    generation = tiny.gen_task(tiny_model_dir("llama"), "{mr} <soft*2> Text: [MASK]",
                               methods=[mixture()])
    with pytest.raises(ModelError, match="a generation task"):
        compile_task(generation)


def test_bad_options_are_located_errors_of_check(tmp_path, tiny_model_dir):
    tiny.write_tsv(tmp_path, tiny.SST2_ROWS, name="rows.tsv")
    path = tmp_path / "mix.prompt"

    def found(block):
        text = PROMPT.format(model=tiny_model_dir("llama")).replace(
            "method prompt_mixture { prompts: 3, combine: learned }", block)
        path.write_text(text)
        return sorted((d.code, d.line) for d in check([str(path)]) if d.is_error)
    assert found("method prompt_mixture { prompts: 3 }") == []
    assert found("method prompt_mixture { prompts: 1 }") == [("invalid-value", 6)]
    assert found("method prompt_mixture { prompts: 33 }") == [("invalid-value", 6)]
    assert found("method prompt_mixture { combine: max }") == [("invalid-value", 6)]
    assert found("method prompt_mixture { promts: 3 }") == [("unknown-field", 6)]
    generation = ('task g {\n  model: "%s"\n  data { train: "rows.tsv", test: "rows.tsv" }\n'
                  '  template: "{sentence} <soft*2> [MASK]"\n  target: "{label}"\n'
                  '  method prompt_mixture { }\n}\n' % tiny_model_dir("llama"))
    path.write_text(generation)
    assert [(d.code, d.line) for d in check([str(path)]) if d.is_error] == \
        [("method-needs-verbalizer", 6)]

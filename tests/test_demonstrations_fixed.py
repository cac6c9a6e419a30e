"""`data.demonstration_draw: fixed`: the same K-per-label demonstrations, drawn once with
`data.sample_seed`, before every query (so the prefix cache computes them once); a pool row
that was drawn gets its label's next draw in its place. `per_query` (the default) is unchanged."""
from __future__ import annotations

import numpy as np

import tiny
from promptdsl.api import check
from promptdsl.data import Table
from promptdsl.model.compile import compile_task
from promptdsl.train.prepare import prepare_model

TRAIN = [("it was fun", "1"), ("a charming journey", "1"), ("so very slow", "0"),
         ("bleak and desperate", "0"), ("wonderful music", "1"), ("labored gags", "0"),
         ("a major career", "1"), ("the worst clichés", "0"), ("rather beautiful", "1"),
         ("very , very slow", "0")]
QUERIES = [{"sentence": f"query {i}"} for i in range(6)]


def train_table():
    rows = [{"sentence": s, "label": y} for s, y in TRAIN]
    return Table("train.tsv", ["sentence", "label"], rows, list(range(2, len(rows) + 2)))


def prepared(tiny_model_dir, draw=None, k=2, seed=13):
    task = tiny.make_task(tiny_model_dir("llama"), "Review: {sentence} Sentiment: [MASK]",
                          {"0": ["bad"], "1": ["great"]}, demonstrations=k, sample_seed=seed,
                          methods=[])
    if draw is not None:
        task["data"]["demonstration_draw"] = draw
    model = compile_task(task)
    prepare_model(model, train=train_table(), echo=lambda _: None)
    return model


def picks(model, rows):
    return model.demonstrations.picks(Table("q.tsv", ["sentence"], rows,
                                            list(range(2, len(rows) + 2))))


def test_fixed_shows_the_same_demonstrations_before_every_query(tiny_model_dir):
    model = prepared(tiny_model_dir, "fixed")
    chosen = picks(model, QUERIES)
    assert all(row == chosen[0] for row in chosen) and len(chosen[0]) == 4   # 2 per label
    labels = [TRAIN[j][1] for j in chosen[0]]
    assert sorted(labels) == ["0", "0", "1", "1"]
    ids = model.collate(model.encode(QUERIES, labels=False))["input_ids"]
    text = [model.tokenizer.decode(row) for row in ids.tolist()]
    heads = {t[:t.index("Review: query")] for t in text}
    assert len(heads) == 1                   # one shared beginning: one prefix-cache entry
    assert picks(prepared(tiny_model_dir, "fixed"), QUERIES) == chosen      # reproducible
    assert picks(prepared(tiny_model_dir, "fixed", seed=21), QUERIES) != chosen


def test_fixed_never_shows_a_pool_row_as_its_own_demonstration(tiny_model_dir):
    model = prepared(tiny_model_dir, "fixed")
    shown = picks(model, QUERIES)[0]
    own = model.demonstrations.picks(train_table())
    for i, row in enumerate(own):
        assert i not in row
        if i not in shown:
            assert row == shown
            continue
        slot = shown.index(i)                # only its own slot changes, to the same label
        stand_in = row[slot]
        assert row[:slot] + row[slot + 1:] == shown[:slot] + shown[slot + 1:]
        assert TRAIN[stand_in][1] == TRAIN[i][1] and stand_in not in shown


def test_per_query_is_the_default_and_draws_for_each_query(tiny_model_dir):
    model = prepared(tiny_model_dir)
    assert model.task["data"]["demonstration_draw"] == "per_query"
    chosen = picks(model, QUERIES)
    assert len({tuple(row) for row in chosen}) > 1
    # today's draw, row by row: K+1 per label, the query itself left out, then one shuffle
    rng, by_label = np.random.default_rng(13), model.demonstrations.by_label
    for row in chosen:
        expected = []
        for rows in by_label.values():
            draw = rng.choice(len(rows), size=3, replace=False).tolist()
            expected.extend([rows[j] for j in draw][:2])
        assert row == [expected[j] for j in rng.permutation(len(expected)).tolist()]


def test_an_unknown_draw_is_a_located_error(tmp_path, tiny_model_dir):
    (tmp_path / "d.tsv").write_text("sentence\tlabel\ngood film\t1\nbad film\t0\n")
    path = tmp_path / "t.prompt"
    path.write_text(f'task t {{\n  model: "{tiny_model_dir("llama")}"\n'
                    '  data { train: "d.tsv", test: "d.tsv", demonstration_draw: once }\n'
                    '  template: "{sentence} It was [MASK]"\n'
                    '  verbalizer { "0": "bad"  "1": "great" }\n  method zero_shot { }\n}\n')
    errors = [d for d in check([str(path)]) if d.severity == "error"]
    assert len(errors) == 1 and errors[0].line == 3
    assert "per_query" in errors[0].message and "fixed" in errors[0].message

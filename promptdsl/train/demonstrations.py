"""`data { demonstrations: K }`: in-context demonstrations for every query (GPT-3 / LM-BFF).

K train rows per label, drawn with `data.sample_seed` and shuffled, are rendered through the
task's template with the label's first word in the mask's place and put before the query (the
data path's `add_demonstrations` does the rendering). `data.demonstration_draw` says how often
they are drawn: `per_query` (the default) anew for each query, `fixed` once, the same before
every query of every split (so the prefix cache computes them once). A model holding a
`Demonstrations` as `model.demonstrations` encodes every split this way, so training,
evaluation, calibration and prediction all see the same kind of input.
"""
from __future__ import annotations

import numpy as np

from ..data.demonstrations import add_demonstrations
from ..data.api import renderer_for
from ..data.render import as_table
from ..errors import DataError


def draw_option(task: dict) -> str:
    """`data.demonstration_draw`, the schema's default for a task saved before it existed."""
    from ..ir.schema import DATA
    return task["data"].get("demonstration_draw",
                            DATA["properties"]["demonstration_draw"]["default"])


class Demonstrations:
    def __init__(self, model, pool, k_per_label: int, seed: int):
        self.model, self.pool, self.k, self.seed = model, pool, int(k_per_label), int(seed)
        self.draw = draw_option(model.task)
        self.label_column = model.task["data"]["label"]
        labels = [str(x) for x in model.labels]
        column = pool.column(self.label_column, role="label column")
        self.by_label = {label: [i for i, v in enumerate(column) if v == label]
                         for label in labels}
        short = [label for label, rows in self.by_label.items() if len(rows) < self.k + 1]
        if short:
            raise DataError(f"data.demonstrations: {self.k} per label needs at least "
                            f"{self.k + 1} train rows of each label; too few for "
                            f"{', '.join(map(repr, short))}", pool.path)

    def label_words(self) -> dict:
        """label value -> the word shown in a demonstration (the label's first word)."""
        words = self.model.verbalizer.words
        return {str(label): words[i][0].strip() for i, label in enumerate(self.model.labels)}

    def picks(self, table) -> list:
        """For each query row: K pool rows per label, in a seeded random order; a row of the
        pool is never its own demonstration. `per_query`: drawn anew for each row; `fixed`: the
        same for every row, except that a pool row shown gets its label's next draw in its
        place."""
        same = table is self.pool or (table.path == self.pool.path and
                                      list(table.lines) == list(self.pool.lines))
        rng = np.random.default_rng(self.seed)
        if self.draw == "fixed":
            return self._fixed_picks(rng, len(table), same)
        out = []
        for i in range(len(table)):
            chosen = []
            for rows in self.by_label.values():
                draw = rng.choice(len(rows), size=self.k + 1, replace=False).tolist()
                chosen.extend([rows[j] for j in draw if not (same and rows[j] == i)][:self.k])
            out.append([chosen[j] for j in rng.permutation(len(chosen)).tolist()])
        return out

    def _fixed_picks(self, rng, n_rows: int, same: bool) -> list:
        """One draw of K+1 rows per label (the first K shown, the last their stand-in), one
        shuffle, for all `n_rows` queries."""
        shown, spare = [], {}
        for rows in self.by_label.values():
            draw = [rows[j] for j in rng.choice(len(rows), size=self.k + 1, replace=False)]
            shown.extend(draw[:self.k])
            spare.update((row, draw[self.k]) for row in draw[:self.k])
        shown = [shown[j] for j in rng.permutation(len(shown)).tolist()]
        if not same:
            return [list(shown) for _ in range(n_rows)]
        return [[spare[row] if row == i else row for row in shown] for i in range(n_rows)]

    def encode(self, rows, require_labels: bool = False):
        """Features of `rows` with the demonstrations in front (see PromptModel.encode)."""
        table = as_table(rows, self.model.renderer().fields)
        pieces, table = add_demonstrations(self.model.template.pieces, table, self.pool,
                                           self.picks(table), self.label_words(),
                                           self.label_column)
        return renderer_for(self.model, pieces).encode(table, require_labels=require_labels)

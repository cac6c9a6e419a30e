"""`data.demonstrations: K` (LM-BFF style in-context demonstrations): before each query, K
labelled rows rendered through the same template with their label word in the mask's place.

    pieces, table = add_demonstrations(pieces, table, pool, picks, label_words, label_column)

`picks[i]` lists the pool rows shown before query row i (drawn by the runtime's
`Demonstrations.picks`). The new
pieces render each demonstration's fields from columns `__demo{d}__{field}` that are added to
the rows; soft tokens are left out of demonstrations, and demonstration fields are always
shortenable, so truncation cuts them (longest first) before anything of the query that is not
`keep`. Demonstrations are separated from each other and from the query by one space.
"""
from __future__ import annotations

from .table import Table


def demonstration_pieces(pieces: list, k: int) -> list:
    """Pieces for `k` demonstrations then the query. A demonstration's label word differs per
    row, so its mask becomes a field piece reading column `__demo{d}__label_word`."""
    out = []
    for d in range(k):
        for piece in pieces:
            kind = piece["type"]
            if kind == "field":
                out.append({"type": "field", "name": f"__demo{d}__{piece['name']}",
                            "filters": [f for f in piece.get("filters", []) if f != "keep"],
                            "shortenable": True})
            elif kind == "mask":
                out.append({"type": "field", "name": f"__demo{d}__label_word", "filters": [],
                            "shortenable": False})
            elif kind in ("text", "special"):
                out.append(dict(piece))
        out.append({"type": "text", "text": " "})
    return out + [dict(p) for p in pieces]


def add_demonstrations(pieces: list, table: Table, pool: Table, picks: list,
                       label_words: dict, label_column: str) -> tuple:
    """(pieces, table) with the demonstrations of `picks` in front of every query row."""
    if len(picks) != len(table):
        raise ValueError("one list of demonstration picks per query row is needed")
    k = len(picks[0]) if picks else 0
    fields = [p["name"] for p in pieces if p["type"] == "field"]
    pool.require_columns(fields + [label_column])
    rows = []
    for row, chosen in zip(table.rows, picks):
        row = dict(row)
        for d, j in enumerate(chosen):
            demo = pool.rows[j]
            for name in fields:
                row[f"__demo{d}__{name}"] = demo[name]
            label = demo[label_column]
            if label not in label_words:
                raise pool.error(j, f"label {label!r} has no label word in the verbalizer")
            row[f"__demo{d}__label_word"] = label_words[label]
        rows.append(row)
    new_table = Table(table.path, list(rows[0]) if rows else list(table.columns), rows,
                      list(table.lines), table.header_line, dict(table.meta))
    return demonstration_pieces(pieces, k), new_table

"""The prediction table: what predictions.tsv (a run) and `promptc predict` print, one row per
prediction: some leading columns, `prediction`, a method's or the task's extra columns (a
rationale; a generation task's reference and number of references), then one probability per
label (classification only)."""
from __future__ import annotations


def prediction_table(table, result, labels: list, leading: dict) -> tuple:
    """(header, rows). `leading`: {column name: fn(row dict, row index) -> value}, the columns
    before `prediction`. A generation result names the table row of each prediction
    (`result.rows`); otherwise predictions are the table's rows in order."""
    labels = [str(label) for label in labels]
    extras = list(result.extras)
    header = [*leading, "prediction", *extras, *[f"p({label})" for label in labels]]
    row_of = result.rows if result.rows is not None else range(len(result.predictions))
    rows = []
    for n, i in enumerate(row_of):
        probabilities = result.probabilities[n].tolist() if result.probabilities is not None \
            else []
        rows.append([*(fn(table.rows[i], i) for fn in leading.values()), result.predictions[n],
                     *(result.extras[k][n] for k in extras), *probabilities])
    return header, rows

"""bench.tables: combining cells' records and summarising them."""

import numpy as np
import pandas as pd

from bench.records import SUMMARY_COLUMNS
from bench.tables import CellRows, combine, summarize


def test_combined_cells_keep_their_order_and_a_parameter_of_mixed_types_becomes_text():
    def cell(cell_id, n, **params):
        return CellRows({"experiment": "toy", "cell_id": cell_id, "seed": 1, **params}, range(n), [np.nan] * n,
                        ["loss"] * n, np.arange(n) / 10)

    table = combine([cell("a", 2, lr=1, act="relu", note=None), cell("b", 0, lr=0.5, act="relu", note="x"),
                     cell("c", 1, lr=0.5, act=3, extra=True)])
    assert table.columns.tolist() == ["experiment", "cell_id", "seed", "lr", "act", "note", "extra", "step", "epoch",
                                      "metric", "value"]
    assert table["cell_id"].tolist() == ["a", "a", "c"] and table["step"].tolist() == [0, 1, 0]
    assert table["lr"].dtype == np.float64 and table["lr"].tolist() == [1.0, 1.0, 0.5]  # ints and floats: floats
    assert table["act"].tolist() == ["relu", "relu", "3"]  # text and a number: text
    assert table["note"].isna().all()  # a cell without rows adds none, whatever its parameters
    assert table["extra"].isna().tolist() == [True, True, False] and table["extra"].tolist()[2] is True
    assert table["value"].tolist() == [0.0, 0.1, 0.0] and table["seed"].dtype == np.int64


def test_summary_interval_never_leaves_the_metric_range():
    rows = [{"experiment": "x", "cell_id": f"c{s}", "seed": s, "lr": 0.1, "dataset": "d", "step": 0, "epoch": 0.0,
             "metric": "acc", "value": v} for s, v in enumerate([0.99, 1.0])]
    summary = summarize(pd.DataFrame(rows))
    assert list(summary.columns) == ["lr", "dataset", "metric", *SUMMARY_COLUMNS]
    row = summary.iloc[0]
    assert row["ci95_boot_low"] == 0.99 and row["ci95_boot_high"] == 1.0 and row["min"] == 0.99


def test_a_cell_without_rows_reads_back_with_its_columns_and_no_values():
    lead = {"experiment": "toy", "cell_id": "c", "seed": 1, "lr": 0.1}
    empty = CellRows.from_arrow(CellRows(lead, [], [], [], []).to_arrow())
    assert empty.lead == dict.fromkeys(lead) and len(empty) == 0
    full = CellRows.from_arrow(CellRows(lead, [0, 5], [0.0, 1.0], ["acc", "acc"], [0.5, 0.75]).to_arrow())
    assert full.lead == lead and full.step.tolist() == [0, 5] and full.value.tolist() == [0.5, 0.75]

"""bench.tables: combining cells' records and summarising them."""

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa

from bench.records import SUMMARY_COLUMNS
from bench.tables import CellRows, cell_rows, combine, final_values, summarize


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
    assert row["ci95_low"] < 0.99 and row["ci95_high"] > 1.0 and row["min"] == 0.99  # not bounded: not cut
    row = summarize(pd.DataFrame(rows), bounds={"acc": (0.0, 1.0)}).iloc[0]
    assert row["ci95_low"] >= 0.0 and row["ci95_high"] == 1.0 and row["mean"] == 0.995


def test_a_cell_without_rows_reads_back_with_its_columns_and_no_values():
    lead = {"experiment": "toy", "cell_id": "c", "seed": 1, "lr": 0.1}
    empty = CellRows.from_arrow(CellRows(lead, [], [], [], []).to_arrow())
    assert empty.lead == dict.fromkeys(lead) and len(empty) == 0
    full = CellRows.from_arrow(CellRows(lead, [0, 5], [0.0, 1.0], ["acc", "acc"], [0.5, 0.75]).to_arrow())
    assert full.lead == lead and full.step.tolist() == [0, 5] and full.value.tolist() == [0.5, 0.75]


def _records(rows):
    return pd.DataFrame([{"experiment": "x", "cell_id": f"{lr}-{seed}", "seed": seed, "lr": lr, "step": step,
                          "epoch": 0.0, "metric": metric, "value": value}
                         for lr, seed, step, metric, value in rows])


def test_summary_statistics_by_hand_with_diverged_seeds_counted_apart():
    nan = float("nan")
    finals = [(0.1, [0.5, 0.7, 0.9]), (0.2, [0.6, nan, 0.8])]
    rows = [(lr, s, 10, "acc", v) for lr, vs in finals for s, v in enumerate(vs)]
    rows += [(lr, s, 0, "acc", 0.1 * (s + 1)) for lr in (0.1, 0.2) for s in range(3)]  # earlier steps, listed after
    rows += [(0.1, s, 10, "loss", v) for s, v in enumerate([1.0, 2.0, nan])]
    rows += [(0.2, s, 10, "loss", 3.0) for s in range(3)]
    summary = summarize(_records(rows))
    assert summary[["lr", "metric"]].values.tolist() == [[0.1, "acc"], [0.2, "acc"], [0.1, "loss"], [0.2, "loss"]]
    expected = [  # mean, std (n - 1), min, max, n, n_diverged: the final step's values alone
        [0.7, 0.2, 0.5, 0.9, 3, 0], [0.7, math.sqrt(0.02), 0.6, 0.8, 2, 1], [1.5, math.sqrt(0.5), 1.0, 2.0, 2, 1],
        [3.0, 0.0, 3.0, 3.0, 3, 0]]
    got = summary[["mean", "std", "min", "max", "n", "n_diverged"]].to_numpy(dtype=float)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert summary.index.tolist() == [0, 1, 2, 3]
    assert summary[["ci95_low", "ci95_high"]].iloc[3].tolist() == [3.0, 3.0]
    assert summary["n"].dtype == np.int64 and summary["n_diverged"].dtype == np.int64

    one = summarize(_records([(0.1, 0, 5, "acc", 0.4), (0.1, 1, 5, "acc", nan)]))
    assert one[["mean", "min", "max", "n", "n_diverged"]].iloc[0].tolist() == [0.4, 0.4, 0.4, 1, 1]
    assert np.isnan(one["std"].iloc[0]) and np.isnan(one["ci95_low"].iloc[0])  # one finite seed: no spread
    none = summarize(_records([(0.1, 0, 5, "acc", nan)]))
    assert np.isnan(none[["mean", "std", "min", "max"]].iloc[0].to_numpy(dtype=float)).all() and none["n"].iloc[0] == 0


def test_summary_by_step_and_of_chosen_metrics():
    rows = [(0.1, s, step, "acc", step / 10 + s / 100) for s in range(3) for step in (0, 10)]
    rows += [(0.1, s, 10, "loss", 1.0) for s in range(3)]
    by_step = summarize(_records(rows), metrics=["acc"], by_step=True)
    assert by_step[["metric", "step"]].values.tolist() == [["acc", 0], ["acc", 10]]
    np.testing.assert_allclose(by_step["mean"], [0.01, 1.01])
    final = summarize(_records(rows), metrics=["acc"])
    assert final["metric"].tolist() == ["acc"] and "step" not in final.columns
    np.testing.assert_allclose(final["mean"], [1.01])


def test_a_diverged_seed_is_counted_for_every_metric_and_averaged_in_none():
    """Seed 2's loss went NaN at step 20, after it logged an accuracy of 0.1 at step 10: that accuracy is
    not where it finished. Every metric says n = 2 and n_diverged = 1, by step too."""
    rows = [(0.1, s, 10, "acc", 0.8 + s / 100) for s in range(2)] + [(0.1, 2, 10, "acc", 0.1)]
    rows += [(0.1, s, 20, "loss", 0.5) for s in range(2)] + [(0.1, 2, 20, "loss", float("nan"))]
    rows += [(0.1, 2, 20, "diverged_at", 20.0)]
    for by_step in (False, True):
        summary = summarize(_records(rows), by_step=by_step)
        assert summary["metric"].tolist() == ["acc", "loss"]  # diverged_at is said by n_diverged
        assert summary["n"].tolist() == [2, 2] and summary["n_diverged"].tolist() == [1, 1]
        np.testing.assert_allclose(summary["mean"], [0.805, 0.5])


def test_a_cells_columns_have_the_tidy_tables_types_whatever_it_recorded():
    """Steps are integers and epochs and values floats even when an experiment records them otherwise;
    an empty cell's metric column is still text, so every cell's Parquet file has one schema."""
    lead = {"experiment": "toy", "cell_id": "c", "seed": 1}
    rows = CellRows(lead, [0.0, 5.0], [0, 1], np.array(["acc", "acc"]), [1, 0])
    assert (rows.step.dtype, rows.epoch.dtype, rows.value.dtype) == (np.int64, np.float64, np.float64)
    expected = {"step": pa.int64(), "epoch": pa.float64(), "metric": pa.string(), "value": pa.float64()}
    for cell in (rows, CellRows(lead, [], [], [], [])):
        schema = cell.to_arrow().schema
        assert schema.names == [*lead, *expected] and {name: schema.field(name).type for name in expected} == expected


def test_cell_rows_put_identity_and_parameters_before_the_rows_from_tuples_or_a_frame():
    cell = SimpleNamespace(experiment="toy", cell_id="c1", seed=3, params={"lr": 0.1, "sizes": [4, 2], "act": "relu"})
    rows = [(0, 0.0, "loss", 2.0), (10, 1.0, "loss", 1.5)]
    from_tuples = cell_rows(cell, rows, used={"act": "tanh", "opts": {"b": 1}})
    assert from_tuples.lead == {"experiment": "toy", "cell_id": "c1", "seed": 3, "lr": 0.1, "sizes": "[4, 2]",
                                "act": "tanh", "opts": '{"b": 1}'}  # lists and dicts as JSON text
    assert from_tuples.step.tolist() == [0, 10] and from_tuples.value.tolist() == [2.0, 1.5]
    frame = pd.DataFrame(rows, columns=["step", "epoch", "metric", "value"])[["value", "metric", "step", "epoch"]]
    from_frame = cell_rows(cell, frame)
    assert from_frame.step.tolist() == [0, 10] and from_frame.epoch.tolist() == [0.0, 1.0]
    assert from_frame.metric.tolist() == ["loss", "loss"] and from_frame.value.tolist() == [2.0, 1.5]
    assert len(cell_rows(cell, [])) == 0


def test_a_parameter_that_is_true_in_one_cell_and_a_number_in_another_becomes_text():
    def cell(cell_id, flag):
        return CellRows({"experiment": "toy", "cell_id": cell_id, "seed": 1, "flag": flag}, [0], [0.0], ["acc"], [1.0])

    assert combine([cell("a", True), cell("b", 2)])["flag"].tolist() == ["True", "2"]  # not [1, 2]


def test_the_final_value_is_at_the_largest_step_and_recorded_last_there():
    """A metric recorded twice at its last step (a last evaluation that repeats the periodic one) ends
    with the later record, in a table long enough that an unstable sort would reorder equal steps."""
    rows = [(0.1, 0, 1, "acc", float(i)) for i in range(50)] + [(0.1, 0, 0, "acc", 100.0 + i) for i in range(50)]
    rows += [(0.1, 1, 3, "loss", 7.0)]
    records = _records(rows)
    final = final_values(records)
    assert final.columns.tolist() == records.columns.tolist() and final.index.tolist() == [0, 1]
    assert final[["cell_id", "metric", "value"]].values.tolist() == [["0.1-0", "acc", 49.0], ["0.1-1", "loss", 7.0]]


def test_summary_keeps_a_setting_without_a_parameter_and_is_empty_when_no_metric_matches():
    rows = [(lr, s, 5, "acc", 0.5 + s / 10) for lr in (0.1, None) for s in range(2)]
    summary = summarize(_records(rows))
    assert summary["lr"].isna().tolist() == [False, True] and summary["n"].tolist() == [2, 2]
    empty = summarize(_records(rows), metrics=["loss"])
    assert empty.columns.tolist() == ["lr", "metric", *SUMMARY_COLUMNS] and len(empty) == 0


def test_summary_of_one_or_no_finite_seed_warns_of_nothing():
    """A setting whose seeds all diverged has no mean, said by NaN and n = 0 in the table, not by
    NumPy's 'mean of empty slice' or 'degrees of freedom' warnings in the user's terminal."""
    nan = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = summarize(_records([(0.1, 0, 5, "acc", nan), (0.2, 0, 5, "acc", 0.5)]))
    assert summary["n"].tolist() == [0, 1] and np.isnan(summary["std"]).all()

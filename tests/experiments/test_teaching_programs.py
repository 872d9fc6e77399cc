"""The teaching programs as experiments: quick runs asserting each one's robust claim."""

import numpy as np
import pandas as pd
import pytest

import bench
from experiments.gradient_check import table
from tests.helpers import needs_fashion


def quick(name, tmp_path, **kwargs):
    result = bench.run(name, quick=True, results_dir=tmp_path, progress=False, **kwargs)
    assert not result.failed, result.manifest["cells"]
    return result


def test_xor_h20_learns_xor_in_most_seeds(tmp_path):
    r = quick("xor", tmp_path, jobs=2)
    outputs = r.records[r.records["metric"].str.startswith("output_")].pivot(index="cell_id", columns="metric",
                                                                              values="value")
    rounded = np.round(outputs[["output_00", "output_01", "output_10", "output_11"]].to_numpy())
    assert (rounded == [0, 1, 1, 0]).all(axis=1).mean() >= 0.8
    cost = r.records[r.records["metric"] == "cost"]
    assert cost.groupby("cell_id")["value"].last().lt(cost.groupby("cell_id")["value"].first()).all()


def test_gradient_check_rows_all_pass(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist))
    r = quick("gradient_check", tmp_path, jobs=1)
    rows = table(r.records)
    assert len(rows) == 4 + 10 + 6 + 6 + 6 + 4 and rows["pass"].all(), rows[~rows["pass"]]
    assert rows[rows["network"].str.startswith("book")]["mean_abs_diff"].max() < 1e-9
    assert r.manifest["headline"] == f"{len(rows)} of {len(rows)} rows pass"


def test_digits_one_hidden_layer_beats_chance_by_far(tmp_path):
    r = quick("digits_depth", tmp_path, jobs=2)
    s = r.summary
    acc = s[s["metric"] == "test_acc"].set_index("hidden")["mean"]
    assert acc["[20]"] > 0.85 and acc["[20, 10]"] > 0.8
    bottleneck = r.records[r.records["metric"] == "bottleneck_x"]
    assert bottleneck.groupby("cell_id").size().eq(1797).all()
    assert {"digits_depth.png", "digits_bottleneck.png"} <= {p.name for p in (r.path / "figures").iterdir()}


@needs_fashion
def test_two_layer_net_learns_and_relu_beats_sigmoid_early(tmp_path):
    r = quick("two_layer_net", tmp_path, dataset="fashion_mnist", jobs=2)
    acc = r.summary[r.summary["metric"] == "test_acc"].set_index("activation")["mean"]
    assert acc["sigmoid"] > 0.6 and acc["relu"] > acc["sigmoid"]
    epochs = r.records[r.records["metric"] == "test_acc"].groupby("cell_id")["epoch"].apply(list)
    assert all(e == [1, 2] for e in epochs)  # one evaluation per 600 iterations, as the book


@needs_fashion
def test_nielsen_learns_and_times_its_epochs(tmp_path):
    r = quick("nielsen_sgd", tmp_path, dataset="fashion_mnist", jobs=2)
    acc = r.summary[r.summary["metric"] == "test_acc"].set_index("eta")["mean"]
    assert acc[3.0] > 0.6 and acc[3.0] > acc[0.1]
    seconds = r.records[r.records["metric"] == "epoch_seconds"]["value"]
    assert (seconds > 0).all() and len(seconds) == 4 * 3


def test_mnist_sgd_saves_a_model_that_loads_back(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist))
    # In-process: loky workers reused from earlier tests keep the environment they started with.
    r = quick("mnist_sgd", tmp_path, dataset="mnist", overrides={"steps": 300, "eval_every": 100}, jobs=1)
    [cell_id] = r.manifest["cells"]
    model = bench.load("mnist_sgd", results_dir=tmp_path).artifact(cell_id, "model")
    from nncore.datasets import load

    data = load("mnist", data_dir=tiny_mnist)
    stored = r.records[r.records["metric"] == "test_acc"]["value"].iloc[-1]
    assert model.accuracy(data.x_test, data.t_test) == pytest.approx(stored)
    weights = r.records[r.records["metric"] == "hidden_weights"].sort_values("step")["value"].to_numpy()
    np.testing.assert_array_equal(weights, model.params["W1"].T.ravel())
    assert (r.path / "figures" / "mnist_sgd_hidden_weights.png").exists()
    with pytest.raises(bench.UserError, match="no artifact 'nope'"):
        bench.load("mnist_sgd", results_dir=tmp_path).artifact(cell_id, "nope")


def test_engine_speed_structure_and_sanity(tmp_path):
    r = quick("engine_speed", tmp_path)
    rec = r.records
    assert set(r.statuses.values()) == {"ok"} and rec["cell_id"].nunique() == 2 * 2 * 2 * 2 * 2
    ratio = rec[rec["metric"] == "ratio"]["value"]
    assert np.isfinite(ratio).all() and (ratio > 0).all()  # its size is a benchmark's business, not a test's
    for metric in ("step_s", "floor_s", "infer_s", "train_samples_per_s"):
        assert (rec[rec["metric"] == metric]["value"] > 0).all()
    assert "step/floor at batch 128, width 100" in r.manifest["headline"]
    assert {"engine_speed_ratio.png", "engine_speed_throughput.png"} <= {p.name for p in (r.path / "figures").iterdir()}


def test_compare_flags_a_slower_engine(tmp_path):
    """Two engine_speed summaries where B's step is 3x slower: compare exits 1 with the flag. (3x, not
    a subtle slowdown: with 3 quick seeds the timing CI is wide, and this tests the flagging.)"""
    from tests.helpers import run_cli

    base = quick("engine_speed", tmp_path / "results", overrides={"batch": 128, "width": 50, "batchnorm": False,
                                                                  "dtype": "float64"}, seeds=3)
    slow = tmp_path / "slow"
    slow.mkdir()
    for name in ("manifest.json", "records.parquet"):
        (slow / name).write_bytes((base.path / name).read_bytes())
    summary = base.summary.copy()
    summary.loc[summary["metric"] == "step_s", ["mean", "ci95_low", "ci95_high", "min", "max"]] *= 3.0
    summary.to_parquet(slow / "summary.parquet")
    same = run_cli("compare", str(base.path), str(base.path), "--fail-on-regression", cwd=tmp_path)
    assert same.returncode == 0 and "0 regression," in same.stdout
    worse = run_cli("compare", str(base.path), str(slow), "--fail-on-regression", cwd=tmp_path)
    assert worse.returncode == 1 and "REGRESSION" in worse.stdout
    assert pd.read_parquet(slow / "summary.parquet").shape == base.summary.shape

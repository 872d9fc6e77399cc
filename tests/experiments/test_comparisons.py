"""The five comparisons, run as a user would (--quick, offline data), asserting each robust claim."""

import pickle

import numpy as np
import pytest

import bench
import nncore
from tests.conftest import tiny_idx_files
from tests.helpers import RunsCode, needs_fashion, run_cli


def quick(name, tmp_path, **kwargs):
    result = bench.run(name, quick=True, results_dir=tmp_path, progress=False, **kwargs)
    assert not result.failed, result.manifest["cells"]
    return result


def final(summary, metric, **where):
    rows = summary[summary["metric"] == metric]
    for k, v in where.items():
        rows = rows[rows[k].astype(str) == str(v)]
    assert len(rows) == 1, (metric, where)
    return rows.iloc[0]["mean"]


def test_optimizer_compare_adam_beats_sgd(tmp_path):
    r = quick("optimizer_compare", tmp_path, dataset="digits", jobs=2)
    assert set(r.records["optimizer"]) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
    # Every row shows the learning rate the cell used (the optimizer's default), never a null.
    used = r.summary.drop_duplicates("optimizer").set_index("optimizer")["lr"].to_dict()
    assert used == {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01, "rmsprop": 0.01, "adam": 0.001}
    steps = r.records[(r.records["metric"] == "test_acc")].groupby("cell_id")["step"].apply(list)
    assert all(s == [50, 100, 150] for s in steps)
    assert final(r.summary, "loss", optimizer="adam") < final(r.summary, "loss", optimizer="sgd")
    assert final(r.summary, "test_acc", optimizer="adam") > final(r.summary, "test_acc", optimizer="sgd")
    assert {"optimizer_compare.png", "optimizer_compare.svg"} <= {p.name for p in (r.path / "figures").iterdir()}


def test_weight_init_he_beats_tiny_std(tmp_path):
    r = quick("weight_init_compare", tmp_path, dataset="digits", overrides={"activation": "relu"}, jobs=1)
    he, tiny = final(r.summary, "loss", init="he"), final(r.summary, "loss", init=0.01)
    assert he < 0.5 * tiny
    assert tiny > 2.2  # std=0.01 does not learn: the loss stays near ln(10)
    hist = r.records[r.records["metric"].str.startswith("hist_")]
    # 1000 x 100 activations per layer; ReLU values above 1 fall outside the book's (0, 1) range.
    totals = hist.groupby(["cell_id", "metric"])["value"].sum()
    assert totals.le(1000 * 100).all() and totals.gt(50_000).all()
    assert set(hist["step"]) == set(range(30))


def test_batchnorm_helps_at_small_scale(tmp_path):
    r = quick("batchnorm_scales", tmp_path, dataset="digits", jobs=1)
    small = min(r.records["scale"])
    bn = final(r.summary, "train_acc", scale=small, batchnorm=True)
    plain = final(r.summary, "train_acc", scale=small, batchnorm=False)
    assert bn >= plain and bn > 0.3
    figures = {p.name for p in (r.path / "figures").iterdir()}
    assert {"batchnorm_scales.png", "batchnorm_final_accuracy.png"} <= figures


def test_batchnorm_diverged_cells_are_kept_and_drawn(tmp_path):
    r = quick("batchnorm_scales", tmp_path, dataset="digits", overrides={"scale": 1.0, "lr": 1.0}, jobs=1)
    statuses = set(r.statuses.values())
    assert "diverged" in statuses and "failed" not in statuses
    assert (r.records["metric"] == "diverged_at").any()


def test_batchnorm_test_every_sets_the_test_evaluations(tmp_path):
    """Train accuracy every epoch always; test accuracy every test_every epochs, none for 0 (the book's
    own workload), and the figures are drawn either way."""
    one_scale = {"scale": 0.01, "test_every": [2]}
    r = quick("batchnorm_scales", tmp_path, dataset="digits", overrides=one_scale, run="every2", jobs=1)
    epochs = r.records.groupby("metric")["epoch"].apply(lambda e: sorted(set(e)))
    assert epochs["train_acc"] == [1, 2, 3, 4, 5, 6] and epochs["test_acc"] == [2, 4, 6]
    r = quick("batchnorm_scales", tmp_path, dataset="digits", overrides={**one_scale, "test_every": [0]},
              run="never", jobs=1)
    assert "test_acc" not in set(r.records["metric"]) and (r.records["metric"] == "train_acc").sum() == 2 * 2 * 6
    assert {"batchnorm_scales.png", "batchnorm_final_accuracy.png"} <= {p.name for p in (r.path / "figures").iterdir()}


def test_hidden_size_three_fits_moons_better_than_one(tmp_path):
    r = quick("hidden_size_sweep", tmp_path, jobs=2)
    assert final(r.summary, "train_acc", hidden=3) > final(r.summary, "train_acc", hidden=1) + 0.05
    assert final(r.summary, "test_acc", hidden=3) > final(r.summary, "test_acc", hidden=1)
    assert final(r.summary, "test_acc", hidden=0) < 0.9  # logistic regression: a straight boundary
    figures = {p.name for p in (r.path / "figures").iterdir()}
    assert {"hidden_size_boundaries.png", "hidden_size_accuracy.png"} <= figures


def test_hidden_size_on_images_records_parameter_counts(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist))
    r = quick("hidden_size_sweep", tmp_path, dataset="mnist", overrides={"hidden": [10, 50], "steps": 50}, jobs=1)
    assert final(r.summary, "n_params", hidden=10) == 784 * 10 + 10 + 10 * 10 + 10


def test_inference_accuracy_identical_for_every_batch_size(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist))
    # A weights file in the book's format: a pickled dict W1, b1, W2, b2, W3, b3 (float32).
    net = nncore.MLP([784, 50, 100, 10], np.random.default_rng(0), activation="sigmoid", init="xavier")
    weights = {k: v.astype(np.float32) for k, v in net.params.items()}
    path = tmp_path / "sample_weight.pkl"
    path.write_bytes(pickle.dumps(weights))
    r = quick("inference_speed", tmp_path, dataset="mnist", overrides={"weights": str(path),
                                                                       "batch_sizes": [[1, 3, 7, 20]]})
    rec = r.records
    acc = rec[rec["metric"] == "accuracy"]
    assert sorted(acc["step"]) == [1, 3, 7, 20] and acc["value"].nunique() == 1
    assert (rec[rec["metric"] == "labels_changed"]["value"] == 0).all()
    x_test = tiny_idx_files(tmp_path / "again")[2].reshape(20, 784) / 255.0
    t_test = tiny_idx_files(tmp_path / "again")[3]
    expected = np.mean(net.predict(x_test).argmax(axis=1) == t_test)
    assert acc["value"].iloc[0] == pytest.approx(expected)
    per_batch = r.summary[r.summary["metric"] == "images_per_s"]
    assert sorted(per_batch["step"]) == [1, 3, 7, 20] and (per_batch["mean"] > 0).all()


@needs_fashion
def test_inference_speed_on_fashion_mnist_offline(tmp_path):
    proc = run_cli("run", "inference_speed", "--quick", "--dataset", "fashion_mnist", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "results/inference_speed/fashion_mnist-quick/figures/inference_speed.png").exists()


def test_missing_mnist_fails_with_the_dataset_error(tmp_path):
    proc = run_cli("run", "optimizer_compare", "--quick", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "mnist not found" in proc.stderr and "fashion_mnist" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content", ["garbage", "code", "not arrays"])
def test_bad_weights_file_is_refused_before_any_cell_and_runs_no_code(tmp_path, tiny_mnist, monkeypatch, content):
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist))
    marker, path = tmp_path / "ran", tmp_path / "bad.pkl"
    payload = {"garbage": b"not a pickle", "code": pickle.dumps({"W1": RunsCode(marker)}),
               "not arrays": pickle.dumps({"W1": [1, 2]})}[content]
    path.write_bytes(payload)
    with pytest.raises(bench.UserError, match="bad value for weights: cannot read weights file"):
        bench.run("inference_speed", quick=True, results_dir=tmp_path / "results", progress=False, dataset="mnist",
                  overrides={"weights": str(path)})
    assert not marker.exists() and not (tmp_path / "results").exists()


def test_weights_npz_and_missing_arrays(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist))
    net = nncore.MLP([784, 50, 100, 10], np.random.default_rng(0), activation="sigmoid")
    np.savez(tmp_path / "w.npz", **{k: v for k, v in net.params.items() if k != "b3"})
    with pytest.raises(bench.UserError, match="has no b3"):
        bench.run("inference_speed", quick=True, results_dir=tmp_path, progress=False, dataset="mnist",
                  overrides={"weights": str(tmp_path / "w.npz")})

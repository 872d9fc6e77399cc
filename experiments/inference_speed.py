"""Batched vs per-sample inference (the book, ch. 3): the 784-50-100-10 sigmoid net classifying the
10,000 test images one at a time and in batches; throughput per batch size, accuracy unchanged."""

import time

import numpy as np

import bench
import bench.params as P
from bench.params import Int, Param
from bench.plotting import figure, mean_ci, spread, spread_label
from bench.records import ACCURACY, SECONDS, Metric
from experiments.common import dataset, train
from nncore import MLP, make_optimizer
from nncore.weights import load_weights

SIZES = [784, 50, 100, 10]
WEIGHT_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def check(grid):
    """A weights file is read (safely) and its arrays checked before any cell runs."""
    for path in grid["weights"]:
        if path is None:
            continue
        try:
            weights = load_weights(path)
            MLP(SIZES, np.random.default_rng(0), activation="sigmoid").set_params(
                {k: weights[k] for k in WEIGHT_NAMES if k in weights})
        except ValueError as e:
            raise bench.UserError(f"bad value for weights: {e}") from None
        missing = [k for k in WEIGHT_NAMES if k not in weights]
        if missing:
            raise bench.UserError(f"bad value for weights: {path} has no {', '.join(missing)}; it needs "
                                  f"{', '.join(WEIGHT_NAMES)} for the {'-'.join(map(str, SIZES))} net")


def book_network(params, data, rng):
    """The book's network: trained briefly here, or loaded from a weights file (a pickled dict W1, b1,
    ..., b3 like the book's sample_weight.pkl, or an .npz), read without running any code in it."""
    net = MLP(SIZES, rng, activation="sigmoid", init="xavier", dtype=params["dtype"])
    if params["weights"]:
        weights = load_weights(params["weights"])
        net.set_params({k: weights[k] for k in WEIGHT_NAMES})
        return net
    train(net, make_optimizer("sgd", lr=params["lr"]), data, bench.Recorder(), params["train_iterations"], 100,
          rng)
    return net


def labels_batched(net, x, batch):
    """Predicted labels for every row of x, `batch` rows per forward pass."""
    out = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), batch):
        out[start:start + batch] = net.forward(x[start:start + batch], False).argmax(axis=1)
    return out


def run(params, rng):
    data = dataset(params["dataset"], params["dtype"])
    net = book_network(params, data, rng)
    x, t = data.x_test, data.t_test
    rec = bench.Recorder()
    reference = None
    for batch in params["batch_sizes"]:
        times = []
        for _ in range(params["repeats"]):
            start = time.perf_counter()
            labels = labels_batched(net, x, batch)
            times.append(time.perf_counter() - start)
        if reference is None:
            reference = labels
        q1, med, q3 = np.percentile(times, [25, 50, 75])
        rec.log("seconds", med, batch)
        rec.log("seconds_iqr", q3 - q1, batch)
        rec.log("images_per_s", len(x) / med, batch)
        rec.log("accuracy", float(np.mean(labels == t)), batch)
        rec.log("labels_changed", int(np.count_nonzero(labels != reference)), batch)
    return rec


def plot(records):
    fig, axes = figure(1, 2, width=11, height=4.0)
    stats = mean_ci(records, "images_per_s", [], x="step", bounds=EXPERIMENT.metrics["images_per_s"].bounds)
    spread(axes[0, 0], stats, "step", label="images per second", color="C0", marker="o")
    axes[0, 0].set_xscale("log")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_xlabel("batch size (1 = per sample)")
    axes[0, 0].set_ylabel("test images per second (median of repeats)")
    axes[0, 0].set_title(f"throughput vs batch size ({spread_label(records['seed'].nunique())})")
    acc = mean_ci(records, "accuracy", [], x="step", bounds=ACCURACY.bounds)
    axes[0, 1].plot(acc["step"], acc["mean"], "o-")
    axes[0, 1].set_xscale("log")
    axes[0, 1].set_xlabel("batch size")
    axes[0, 1].set_ylabel("test accuracy")
    axes[0, 1].set_title("accuracy is the same for every batch size")
    return {"inference_speed": fig}


EXPERIMENT = bench.Experiment(
    name="inference_speed",
    description="784-50-100-10 sigmoid net on 10k test images: per-sample vs batched throughput",
    run=run,
    plot=plot,
    grid={"batch_sizes": [[1, 10, 100, 1000, 10000]], "repeats": [5], "weights": [None], "train_iterations": [2000],
          "lr": [0.1], "dtype": ["float32"]},
    check=check,
    params={"batch_sizes": Param("ints", "batch sizes timed (1: per sample)", 1, 1_000_000),
            "repeats": Int("timing repeats (the median is kept)", 1, 10_000),
            "weights": Param("str", "weights file with W1, b1, ..., b3 (null: train the net here)", nullable=True),
            "train_iterations": Int("iterations of training when no weights file is given", 1, P.MAX_STEPS),
            "lr": P.LR, "dtype": P.DTYPE},
    accepts=("images",),
    source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 3",
    datasets=("mnist", "fashion_mnist"),
    seeds=3,
    quick={"repeats": [2], "train_iterations": [200], "seeds": 1},
    run_alone=True,
    summary_by_step=True,
    metrics={"images_per_s": Metric("max", 0.0), "seconds": SECONDS, "accuracy": ACCURACY},
)

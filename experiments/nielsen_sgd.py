"""Nielsen's network.py (ch. 1): [784, 30, 10] sigmoid, quadratic cost, standard-normal W and b,
mini-batches of 10 over a reshuffled 50k training set, 30 epochs, eta 3.0 or 0.1. The mini-batch is
one matrix product per layer, not a loop over its samples."""

import time

import numpy as np

import bench
import bench.params as P
from bench.params import Float
from bench.plotting import figure, spread_label
from bench.records import ACCURACY, SECONDS
from experiments.common import dataset, plot_metric
from nncore import MLP, make_optimizer
from nncore.datasets import one_hot


def run(params, rng):
    data = dataset(params["dataset"], n_train=params["n_train"])
    x, targets = data.x_train, one_hot(data.t_train, data.n_classes)
    net = MLP([x.shape[1], params["hidden"], data.n_classes], rng, activation="sigmoid", output_activation="sigmoid",
              loss="mse", init="normal", bias="normal")
    # network.py sums the gradient over the batch and steps eta / len(batch): the mean gradient times eta.
    opt = make_optimizer("sgd", lr=params["eta"])
    size = params["batch"]
    xb, tb = np.empty((size, x.shape[1])), np.empty((size, data.n_classes))
    rec = bench.Recorder()
    for epoch in range(1, params["epochs"] + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        for k in range(0, len(x) - size + 1, size):
            idx = order[k:k + size]
            np.take(x, idx, axis=0, out=xb)
            np.take(targets, idx, axis=0, out=tb)
            _, grads = net.gradient(xb, tb)
            opt.update(net.params, grads)
        rec.log("epoch_seconds", time.perf_counter() - start, epoch, epoch)
        rec.log("test_acc", net.accuracy(data.x_test, data.t_test), epoch, epoch)
    return rec


def plot(records):
    fig, axes = figure(1, 1, width=6.4, height=4.0)
    ax = axes[0, 0]
    plot_metric(ax, records, "test_acc", "eta", x="epoch", labels={e: f"eta {e}" for e in map(str, records["eta"])})
    ax.set_xlabel("epochs")
    ax.set_ylabel(f"test accuracy ({spread_label(records['seed'].nunique())})")
    ax.legend(loc="lower right")
    seconds = records[records["metric"] == "epoch_seconds"]["value"].median()
    ax.set_title(f"network.py [784, 30, 10], mini-batch 10 (median {seconds:.2f} s per epoch)")
    return {"nielsen_sgd": fig}


EXPERIMENT = bench.Experiment(
    name="nielsen_sgd",
    description="Nielsen's network.py: [784, 30, 10] sigmoid, quadratic cost, mini-batch 10, 30 epochs, eta 3.0/0.1",
    run=run,
    plot=plot,
    shows=("eta",),
    grid={"eta": [3.0, 0.1], "hidden": [30], "batch": [10], "epochs": [30], "n_train": [50000]},
    params={"eta": Float("learning rate eta", 0, low_open=True), "hidden": P.WIDTH, "batch": P.BATCH,
            "epochs": P.EPOCHS, "n_train": P.N_TRAIN},
    accepts=("images",),
    source="Nielsen, Neural Networks and Deep Learning (2015), ch. 1, network.py",
    datasets=("mnist", "fashion_mnist"),
    seeds=3,
    quick={"epochs": [3], "n_train": [10000], "seeds": 2},
    metrics={"test_acc": ACCURACY, "epoch_seconds": SECONDS},
)

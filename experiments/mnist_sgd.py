"""The toy network on MNIST: 784-100-10 sigmoid, one random sample per step, 50,000 steps; the
model is saved with the run, and its hidden units' input weights drawn as images."""

import numpy as np

import bench
import bench.params as P
from bench.plotting import figure, spread_label
from bench.records import ACCURACY
from experiments.common import dataset
from experiments.xor import toy_network
from nncore import make_optimizer
from nncore.datasets import one_hot


def run(params, rng):
    data = dataset(params["dataset"], n_train=params["n_train"])
    targets = one_hot(data.t_train, data.n_classes)
    net = toy_network([data.x_train.shape[1], params["hidden"], data.n_classes], rng)
    opt = make_optimizer("sgd", lr=params["lr"])
    rec = bench.Recorder()
    every = params["eval_every"]
    for step in range(1, params["steps"] + 1):
        i = rng.integers(0, len(data.x_train))
        _, grads = net.gradient(data.x_train[i:i + 1], targets[i:i + 1])
        opt.update(net.params, grads)
        if step % every == 0 or step == params["steps"]:
            rec.log("test_acc", net.accuracy(data.x_test, data.t_test), step)
    W1 = net.params["W1"]
    if W1.shape[0] == 784:
        for k, w in enumerate(W1.T.ravel()):  # unit by unit, each a 28x28 image
            rec.log("hidden_weights", w, k)
    rec.save("model", net)
    return rec


def plot(records):
    fig, axes = figure(1, 1, width=6.4, height=4.0)
    from experiments.common import plot_metric

    plot_metric(axes[0, 0], records, "test_acc", "steps")
    axes[0, 0].set_xlabel("steps (one sample each)")
    axes[0, 0].set_ylabel(f"test recognition rate ({spread_label(records['seed'].nunique())})")
    figures = {"mnist_sgd_accuracy": fig}
    weights = records[records["metric"] == "hidden_weights"]
    if len(weights):
        first = weights[weights["cell_id"] == weights["cell_id"].iloc[0]].sort_values("step")["value"].to_numpy()
        units = first.reshape(-1, 28, 28)[:100]
        grid_fig, grid_axes = figure(10, 10, width=7, height=7)
        limit = np.abs(units).max()
        for ax, unit in zip(grid_axes.flat, units):
            ax.imshow(unit, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        grid_fig.suptitle("input weights of the 100 hidden units (first seed; red +, blue -)")
        figures["mnist_sgd_hidden_weights"] = grid_fig
    return figures


EXPERIMENT = bench.Experiment(
    name="mnist_sgd",
    description="the toy 784-100-10 sigmoid net, per-sample SGD lr 0.1, 50,000 steps; model saved with the run",
    run=run,
    plot=plot,
    shows=("steps",),
    grid={"steps": [50000], "hidden": [100], "lr": [0.1], "n_train": [50000], "eval_every": [5000]},
    params={"steps": P.STEPS, "hidden": P.WIDTH, "lr": P.LR, "n_train": P.N_TRAIN, "eval_every": P.EVAL_EVERY},
    accepts=("images",),
    source="the classic per-sample two-layer sigmoid network (docs/sources.md)",
    datasets=("mnist", "fashion_mnist"),
    seeds=3,
    quick={"steps": [3000], "eval_every": [1000], "seeds": 1},
    metrics={"test_acc": ACCURACY},
    summary_metrics=("test_acc",),
)

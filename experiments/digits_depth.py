"""The digits notebook: per-sample SGD on scikit-learn's 8x8 digits with 1, 2 and 3 hidden layers,
and the 2-D bottleneck of the [20, 20, 2] net."""

import numpy as np

import bench
import bench.params as P
from bench.plotting import figure, spread_label
from bench.records import ACCURACY, LOSS
from experiments.common import plot_metric
from nncore import MLP, make_optimizer
from nncore.datasets import load


def standardized_digits():
    """The notebook's data: 64 features standardized over all 1797 samples; first 300 are the test set."""
    d = load("digits", normalize=False)
    x = np.concatenate([d.x_test, d.x_train])
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-7)
    return x[300:], d.t_train, x[:300], d.t_test


def run(params, rng):
    x_train, t_train, x_test, t_test = standardized_digits()
    net = MLP([64, *params["hidden"], 10], rng, activation="sigmoid", init="xavier")
    opt = make_optimizer("sgd", lr=params["lr"])
    rec = bench.Recorder()
    for epoch in range(1, params["epochs"] + 1):
        for i in rng.permutation(len(x_train)):
            _, grads = net.gradient(x_train[i:i + 1], t_train[i:i + 1])
            opt.update(net.params, grads)
        rec.log("loss", net.loss(x_train, t_train), epoch, epoch)
        rec.log("test_loss", net.loss(x_test, t_test), epoch, epoch)
        rec.log("train_acc", net.accuracy(x_train, t_train), epoch, epoch)
        rec.log("test_acc", net.accuracy(x_test, t_test), epoch, epoch)
    if params["hidden"][-1] == 2:
        # Pre-activations of the 2-unit layer for every sample, test (first 300) then train.
        x = np.concatenate([x_test, x_train])
        for layer in net.layers[:-2]:
            x = layer.forward(x, False)
        for k, (a, b) in enumerate(x):
            rec.log("bottleneck_x", a, k)
            rec.log("bottleneck_y", b, k)
    return rec


def plot(records):
    archs = list(dict.fromkeys(records["hidden"]))
    fig, axes = figure(1, 2, width=11, height=4.0)
    for metric, ax, label in (("loss", axes[0, 0], "training cross-entropy"), ("test_acc", axes[0, 1],
                                                                                "test accuracy")):
        plot_metric(ax, records, metric, "hidden", labels={a: f"hidden {a}" for a in archs},
                    bounds=EXPERIMENT.metrics[metric].bounds)
        ax.set_xlabel("epochs")
        ax.set_ylabel(f"{label} ({spread_label(records['seed'].nunique())})")
        ax.legend()
    plot_metric(axes[0, 1], records, "train_acc", "hidden", labels={a: f"train {a}" for a in archs}, linestyle=":")
    axes[0, 1].set_ylim(0.5, 1.0)
    axes[0, 1].legend(fontsize=7)
    figures = {"digits_depth": fig}
    bottleneck = records[records["metric"].isin(["bottleneck_x", "bottleneck_y"])]
    if len(bottleneck):
        _, t_train, _, t_test = standardized_digits()
        labels = np.concatenate([t_test, t_train])
        first = bottleneck[bottleneck["cell_id"] == bottleneck["cell_id"].iloc[0]]
        xy = first.pivot(index="step", columns="metric", values="value").sort_index().to_numpy()
        scat, ax = figure(1, 1, width=6.4, height=5.2)
        ax = ax[0, 0]
        for digit in range(10):
            train = (labels == digit) & (np.arange(len(labels)) >= 300)
            test = (labels == digit) & (np.arange(len(labels)) < 300)
            ax.scatter(*xy[train].T, s=6, color=f"C{digit}", label=str(digit))
            ax.scatter(*xy[test].T, s=22, marker="x", color=f"C{digit}")
        ax.legend(title="digit", ncol=2, fontsize=7, markerscale=2)
        ax.set_title("[20, 20, 2]: the 2-unit layer's pre-activations (train dots, test crosses)")
        figures["digits_bottleneck"] = scat
    return figures


EXPERIMENT = bench.Experiment(
    name="digits_depth",
    description="scikit-learn digits, per-sample SGD lr 0.2, 100 epochs: hidden [20], [20, 10], [20, 20, 2]",
    run=run,
    plot=plot,
    shows=("hidden",),
    grid={"hidden": [[20], [20, 10], [20, 20, 2]], "lr": [0.2], "epochs": [100]},
    params={"hidden": P.WIDTHS, "lr": P.LR, "epochs": P.EPOCHS},
    source="a course notebook on scikit-learn's digits (Alpaydin & Kaynak 1998)",
    datasets=("digits",),
    seeds=3,
    quick={"epochs": [10], "seeds": 2},
    metrics={"loss": LOSS, "test_loss": LOSS, "train_acc": ACCURACY, "test_acc": ACCURACY},
    summary_metrics=("loss", "test_loss", "train_acc", "test_acc"),
)

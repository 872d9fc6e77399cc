"""The book's two-layer net (ch. 4-5): 784-50-10, std 0.01, batch 100, lr 0.1, 10,000 iterations."""

import bench
import bench.params as P
from bench.params import Choice, Float
from bench.plotting import figure, spread_label
from bench.records import ACCURACY, LOSS
from experiments.common import dataset, plot_metric, train
from nncore import MLP, make_optimizer
from nncore.layers import ACTIVATIONS


def run(params, rng):
    data = dataset(params["dataset"])
    net = MLP([data.x_train.shape[1], params["hidden"], data.n_classes], rng, activation=params["activation"],
              init=params["init_std"])
    per_epoch = max(len(data.x_train) // params["batch"], 1)
    rec = bench.Recorder()

    def evaluate(step):
        rec.log("train_acc", net.accuracy(data.x_train, data.t_train), step, step // per_epoch)
        rec.log("test_acc", net.accuracy(data.x_test, data.t_test), step, step // per_epoch)

    train(net, make_optimizer("sgd", lr=params["lr"]), data, rec, params["iterations"], params["batch"], rng,
          per_epoch, evaluate)
    return rec


def plot(records):
    acts = list(dict.fromkeys(records["activation"]))
    fig, axes = figure(1, len(acts), width=5.2 * len(acts), height=4.0, sharey=True)
    for ax, act in zip(axes[0], acts):
        rows = records[records["activation"] == act]
        plot_metric(ax, rows, "train_acc", "metric", x="epoch", labels={"train_acc": "train acc"})
        plot_metric(ax, rows, "test_acc", "metric", x="epoch", labels={"test_acc": "test acc"}, linestyle="--")
        ax.set_ylim(0, 1.0)
        ax.set_xlabel("epochs")
        ax.set_title(f"{act}")
    axes[0, 0].legend(loc="lower right")
    axes[0, 0].set_ylabel(f"accuracy ({spread_label(records['seed'].nunique())})")
    return {"two_layer_net": fig}


EXPERIMENT = bench.Experiment(
    name="two_layer_net",
    description="the book's 784-50-10 two-layer net, sigmoid or ReLU, batch 100, lr 0.1, 10,000 iterations",
    run=run,
    plot=plot,
    shows=("activation",),
    grid={"activation": ["sigmoid", "relu"], "hidden": [50], "init_std": [0.01], "batch": [100], "lr": [0.1],
          "iterations": [10000]},
    params={"activation": Choice("hidden activation", *ACTIVATIONS), "hidden": P.WIDTH,
            "init_std": Float("weight init std", 0, low_open=True), "batch": P.BATCH, "lr": P.LR,
            "iterations": P.ITERATIONS},
    accepts=("images", "vectors", "points"),
    source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 4-5",
    datasets=("mnist", "fashion_mnist", "digits"),
    seeds=3,
    quick={"iterations": [1200], "seeds": 2},
    metrics={"train_acc": ACCURACY, "test_acc": ACCURACY, "loss": LOSS},
    summary_metrics=("train_acc", "test_acc", "loss"),
)

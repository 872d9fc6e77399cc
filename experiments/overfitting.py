"""What weight_decay and dropout share (the book, ch. 6): a deep net on 300 training images,
train and test accuracy every epoch, and the figure whose point is the gap between them."""

import bench
import bench.params as P
from bench.plotting import figure, spread_label
from bench.records import ACCURACY, LOSS, Metric
from experiments.common import dataset, plot_metric, train
from nncore import MLP, make_optimizer


def run_overfit(params, rng, weight_decay=0.0, dropout=0.0):
    data = dataset(params["dataset"], params["dtype"], n_train=params["n_train"], n_test=params["n_test"])
    sizes = [data.x_train.shape[1], *params["hidden"], data.n_classes]
    net = MLP(sizes, rng, activation="relu", init="he", weight_decay=weight_decay, dropout=dropout,
              dtype=params["dtype"])
    per_epoch = max(len(data.x_train) // params["batch"], 1)
    rec = bench.Recorder()
    rec.use("n_test", len(data.x_test))

    def evaluate(step):
        epoch = step // per_epoch
        train_acc = net.accuracy(data.x_train, data.t_train)
        test_acc = net.accuracy(data.x_test, data.t_test)
        rec.log("train_acc", train_acc, step, epoch)
        rec.log("test_acc", test_acc, step, epoch)
        rec.log("gap", train_acc - test_acc, step, epoch)

    train(net, make_optimizer("sgd", lr=params["lr"]), data, rec, params["epochs"] * per_epoch, params["batch"],
          rng, per_epoch, evaluate)
    return rec


def plot_gap(records, by, label):
    values = list(dict.fromkeys(records[by]))
    fig, axes = figure(1, len(values), width=4.6 * len(values), height=3.8, sharey=True)
    for ax, value in zip(axes[0], values):
        rows = records[records[by] == value]
        plot_metric(ax, rows, "train_acc", "metric", x="epoch", labels={"train_acc": "train"})
        plot_metric(ax, rows, "test_acc", "metric", x="epoch", labels={"test_acc": "test"}, linestyle="--")
        ax.set_title(f"{label} = {value}")
        ax.set_xlabel("epochs")
        ax.set_ylim(0, 1.0)
    axes[0, 0].legend(loc="lower right")
    axes[0, 0].set_ylabel(f"accuracy ({spread_label(records['seed'].nunique())})")
    return fig


def overfitting_experiment(name, description, axis, values, epochs, label, axis_param):
    """An experiment on the book's overfitting setup whose grid axis `axis` (weight_decay or dropout)
    is passed to the network as the option of the same name."""

    def run(params, rng):
        return run_overfit(params, rng, **{axis: params[axis]})

    def plot(records):
        return {name: plot_gap(records, axis, label)}

    return bench.Experiment(
        name=name, description=description, run=run, plot=plot, shows=(axis,),
        grid={axis: values, "hidden": [[100] * 6], "n_train": [300], "n_test": [None], "batch": [100], "lr": [0.01],
              "epochs": [epochs], "dtype": ["float64"]},
        params={axis: axis_param, "hidden": P.WIDTHS, "n_train": P.N_TRAIN, "n_test": P.N_TEST, "batch": P.BATCH,
                "lr": P.LR, "epochs": P.EPOCHS, "dtype": P.DTYPE},
        datasets=("mnist", "fashion_mnist", "digits"),
        accepts=("images", "vectors", "points"),
        source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 6",
        seeds=3,
        quick={"epochs": [100], "n_test": [2000], "seeds": 2},
        metrics={"train_acc": ACCURACY, "test_acc": ACCURACY, "gap": Metric("min", -1.0, 1.0, margin=0.01),
                 "loss": LOSS},
    )

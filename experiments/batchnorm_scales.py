"""Batch normalization against the initial weight scale (the book, ch. 6): 16 scales, with and
without BatchNorm, on the first 1000 training images.

Train accuracy is recorded every epoch, as the book draws it; test accuracy on the whole test set
every `test_every` epochs (default 1). That evaluation costs about twice as much as the rest of a cell;
`test_every=0` leaves it out, which is exactly the book's own workload."""

import numpy as np

import bench
import bench.params as P
from bench.params import Bool, Float, Int
from bench.plotting import figure, mean_ci, spread, spread_label
from bench.records import ACCURACY, DIVERGED_AT, LOSS
from experiments.common import dataset, train
from nncore import MLP, make_optimizer

SCALES = [float(s) for s in np.logspace(0, -4, 16)]


def run(params, rng):
    data = dataset(params["dataset"], params["dtype"], n_train=params["n_train"])
    sizes = [data.x_train.shape[1], *params["hidden"], data.n_classes]
    net = MLP(sizes, rng, activation="relu", init=params["scale"], batchnorm=params["batchnorm"],
              dtype=params["dtype"])
    opt = make_optimizer("sgd", lr=params["lr"])
    per_epoch = max(len(data.x_train) // params["batch"], 1)
    rec = bench.Recorder()

    def evaluate(step):
        epoch = step // per_epoch
        rec.log("train_acc", net.accuracy(data.x_train, data.t_train), step, epoch)
        if params["test_every"] and epoch % params["test_every"] == 0:
            rec.log("test_acc", net.accuracy(data.x_test, data.t_test), step, epoch)

    train(net, opt, data, rec, params["epochs"] * per_epoch, params["batch"], rng, per_epoch, evaluate)
    return rec


# batchnorm -> (line style, colour, legend label, short name)
STYLES = {True: ("-", "C0", "Batch Normalization", "BN"), False: ("--", "C1", "Normal (without BN)", "plain")}


def _panel(ax, curves, diverged, cells):
    """One scale: the train accuracy of BN and plain over seeds, and how many of their cells diverged."""
    for bn, (linestyle, color, _, short) in STYLES.items():
        curve = curves[curves["batchnorm"] == bn]
        if len(curve):
            spread(ax, curve, "epoch", linestyle=linestyle, color=color)
        if diverged.get(bn):
            ax.text(0.03, 0.92 if bn else 0.80, f"{short}: {diverged[bn]}/{cells[bn]} diverged",
                    transform=ax.transAxes, color=color, fontsize=8)


def plot(records):
    from matplotlib.lines import Line2D

    from bench.tables import final_values  # pandas: imported when drawing, not in workers

    scales = sorted(records["scale"].unique(), reverse=True)
    n = len(scales)
    cols = 4 if n >= 4 else n
    rows_n = int(np.ceil(n / cols))
    # Statistics for every panel at once: one groupby, not two per panel.
    curves = mean_ci(records, "train_acc", ["scale", "batchnorm"], x="epoch", bounds=ACCURACY.bounds)
    diverged = records[records["metric"] == DIVERGED_AT].groupby(["scale", "batchnorm"]).size()
    cells = records.groupby(["scale", "batchnorm"])["cell_id"].nunique()
    grid_fig, axes = figure(rows_n, cols, width=3.2 * cols, height=2.6 * rows_n, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        scale = scales[i]
        _panel(ax, curves[curves["scale"] == scale], diverged.get(scale, {}), cells.get(scale, {}))
        ax.set_title(f"W: {scale:.4g}")
        ax.set_ylim(0, 1.0)
        if i % cols == 0:
            ax.set_ylabel("train accuracy")
        if i >= n - cols:
            ax.set_xlabel("epochs")
    # Drawn from styles, not from the first panel's lines: at scale 1 the plain net may have diverged.
    axes.flat[0].legend(handles=[Line2D([], [], linestyle=ls, color=c, label=label)
                                 for ls, c, label, _ in STYLES.values()], loc="lower right")
    grid_fig.suptitle("training accuracy per initial weight scale: BN solid, plain dashed "
                      f"({spread_label(records['seed'].nunique())})")

    summary_fig, ax = figure(1, 1, width=6.4, height=4.0)
    ax = ax[0, 0]
    last = final_values(records[records["metric"].isin(["train_acc", "test_acc", DIVERGED_AT])])
    for (bn, metric), style in zip(((True, "test_acc"), (False, "test_acc"), (True, "train_acc"),
                                    (False, "train_acc")), ("-", "--", "-", "--")):
        part = last[(last["batchnorm"] == bn) & (last["metric"] == metric)]
        if part.empty:  # test_every=0: no test accuracy recorded
            continue
        stats = mean_ci(part, metric, [], x="scale", bounds=ACCURACY.bounds).sort_values("scale")
        spread(ax, stats, "scale", linestyle=style, label=f"{'BN' if bn else 'plain'} {metric.replace('_acc', '')}",
             color=("C0" if bn else "C1") if metric == "test_acc" else ("C2" if bn else "C3"))
    ax.set_xscale("log")
    ax.set_xlabel("initial weight std")
    ax.set_ylabel("final accuracy")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("final accuracy vs weight scale (diverged cells have none)")
    return {"batchnorm_scales": grid_fig, "batchnorm_final_accuracy": summary_fig}


EXPERIMENT = bench.Experiment(
    name="batchnorm_scales",
    description="BN vs plain 784-100x5-10 ReLU over 16 weight scales, 1000 samples, SGD 0.01, 20 epochs",
    run=run,
    plot=plot,
    shows=("scale", "batchnorm"),
    grid={"scale": SCALES, "batchnorm": [True, False], "hidden": [[100] * 5], "n_train": [1000], "batch": [100],
          "lr": [0.01], "epochs": [20], "test_every": [1], "dtype": ["float64"]},
    params={"scale": Float("initial weight std of every layer", 0, low_open=True),
            "batchnorm": Bool("BatchNorm after every hidden Affine"), "hidden": P.WIDTHS, "n_train": P.N_TRAIN,
            "batch": P.BATCH, "lr": P.LR, "epochs": P.EPOCHS,
            "test_every": Int("test-set accuracy every N epochs (0: never, the book's workload)", 0, 1_000_000),
            "dtype": P.DTYPE},
    accepts=("images", "vectors", "points"),
    source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 6; Ioffe & Szegedy 2015",
    datasets=("mnist", "fashion_mnist", "digits"),
    seeds=3,
    quick={"scale": [SCALES[0], SCALES[6], SCALES[12]], "n_train": [300], "epochs": [6], "seeds": 2},
    metrics={"loss": LOSS, "train_acc": ACCURACY, "test_acc": ACCURACY},
)

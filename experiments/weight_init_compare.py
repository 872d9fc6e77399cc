"""std=0.01 vs Xavier vs He initial weights (the book, ch. 6): training loss, and the activation
histograms that explain it."""

import numpy as np

import bench
import bench.params as P
from bench.params import Choice, Float
from bench.plotting import figure
from bench.records import ACCURACY, LOSS
from experiments.common import dataset, plot_loss_curves, train
from nncore import MLP, make_optimizer
from nncore.init import init_weights
from nncore.layers import ACTIVATIONS

LABELS = {"0.01": "std=0.01", "xavier": "Xavier", "he": "He"}  # init column values, as text
HIST_LAYERS, HIST_WIDTH, HIST_SAMPLES, HIST_BINS = 5, 100, 1000, 30
HIST_RANGE = {"sigmoid": (0.0, 1.0), "relu": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def activation_histograms(init, activation, rng, rec):
    """The book's experiment: 1000 standard-normal inputs through 5 layers of 100 units (no bias);
    the histogram (30 bins) of each layer's activations, logged as metric hist_<layer>, step = bin."""
    x = rng.standard_normal((HIST_SAMPLES, HIST_WIDTH))
    act = ACTIVATIONS[activation]()
    for layer in range(HIST_LAYERS):
        W = init_weights(init, HIST_WIDTH, HIST_WIDTH, rng)
        x = act.forward(x @ W).copy()
        counts, _ = np.histogram(x, HIST_BINS, range=HIST_RANGE[activation])
        for b, c in enumerate(counts):
            rec.log(f"hist_{layer + 1}", c, b)


def run(params, rng):
    rec = bench.Recorder()
    activation_histograms(params["init"], params["activation"], rng, rec)
    data = dataset(params["dataset"], params["dtype"])
    sizes = [data.x_train.shape[1], *params["hidden"], data.n_classes]
    net = MLP(sizes, rng, activation=params["activation"], init=params["init"], dtype=params["dtype"])
    opt = make_optimizer("sgd", lr=params["lr"])
    train(net, opt, data, rec, params["iterations"], params["batch"], rng, evaluate=lambda step: rec.log(
        "test_acc", net.accuracy(data.x_test, data.t_test), step))
    return rec


def plot(records):
    from bench.plotting import levels, palette, spread_label

    acts = levels(records, "activation")
    colors = palette(levels(records, "init"))
    fig, axes = figure(1, len(acts), width=4.6 * len(acts), height=4.0)
    for ax, act in zip(axes[0], acts):
        plot_loss_curves(ax, records[records["activation"] == act], "init", LABELS, ylim=(0, 2.5), colors=colors)
        ax.set_title(f"{act}: training loss")
        if ax is not axes[0, 0]:
            ax.get_legend().remove()  # one legend: the colours mean the same in every panel
    axes[0, 0].set_ylabel(f"loss ({spread_label(records['seed'].nunique())})")
    figures = {"weight_init_compare": fig}
    for act in acts:
        figures[f"activation_histograms_{act}"] = plot_histograms(records[records["activation"] == act], act, colors)
    return figures


def plot_histograms(records, activation, colors):
    inits = list(dict.fromkeys(records["init"]))
    fig, axes = figure(len(inits), HIST_LAYERS, width=2.3 * HIST_LAYERS, height=1.9 * len(inits),
                       sharex=True, sharey="row")
    lo, hi = HIST_RANGE[activation]
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    for r, init in enumerate(inits):
        rows = records[records["init"] == init]
        for layer in range(HIST_LAYERS):
            ax = axes[r, layer]
            counts = rows[rows["metric"] == f"hist_{layer + 1}"].groupby("step")["value"].mean()
            ax.stairs(counts.reindex(range(HIST_BINS), fill_value=0), edges, fill=True, color=colors[init])
            ax.set_title(f"{LABELS.get(str(init), init)} · layer {layer + 1}", fontsize=8.5)
            ax.set_yticks([]) if layer else ax.set_ylabel("count")
    fig.suptitle(f"{activation} activations, 5 layers of 100 (mean over seeds)")
    return fig


EXPERIMENT = bench.Experiment(
    name="weight_init_compare",
    description="std=0.01 vs Xavier vs He init (relu/sigmoid/tanh), SGD 0.01, batch 128, 2000 iterations",
    run=run,
    plot=plot,
    shows=("init", "activation"),
    grid={"init": [0.01, "xavier", "he"], "activation": ["relu", "sigmoid", "tanh"],
          "hidden": [[100, 100, 100, 100]], "lr": [0.01], "batch": [128], "iterations": [2000],
          "dtype": ["float64"]},
    params={"init": Float("weight init: a fixed std, or xavier / he", 0, low_open=True, choices=("xavier", "he")),
            "activation": Choice("hidden activation", *ACTIVATIONS), "hidden": P.WIDTHS, "lr": P.LR,
            "batch": P.BATCH, "iterations": P.ITERATIONS, "dtype": P.DTYPE},
    accepts=("images", "vectors", "points"),
    source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 6",
    datasets=("mnist", "fashion_mnist", "digits"),
    seeds=3,
    quick={"iterations": [300], "hidden": [[50, 50, 50, 50]], "seeds": 2},
    metrics={"loss": LOSS, "test_acc": ACCURACY},
    summary_metrics=("loss", "test_acc"),
)

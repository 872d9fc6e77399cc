"""Backprop against central differences, as a table (the book, ch. 5): the 784-50-10 net on 3
samples, and one small network per layer type. A row passes when the mean absolute difference is
below 1e-7 and the max relative error below 1e-6."""

import numpy as np

import bench
from bench.params import Choice
from bench.plotting import figure
from bench.records import Metric
from experiments.common import dataset
from nncore import MLP
from nncore.gradcheck import network_gradients, relative_error

MEAN_ABS_LIMIT, REL_LIMIT = 1e-7, 1e-6

# network -> MLP options, samples and step h. The book's net uses the book's 3 samples and h=1e-4;
# the small nets use 8 random samples (BatchNorm over 3 is needlessly nonlinear) and h=1e-5. ReLU
# nets get a small bias so that no pre-activation sits exactly at the kink.
SMALL = dict(sizes=[8, 10, 10, 4], samples=8, h=1e-5)
NETWORKS = {
    "book 784-50-10 ReLU": dict(sizes=[784, 50, 10], init=0.01, samples=3, h=1e-4),
    "BatchNorm": dict(SMALL, batchnorm=True),
    "Dropout (fixed mask)": dict(SMALL, dropout=0.3, bias=0.1),
    "Tanh": dict(SMALL, activation="tanh", init="xavier"),
    "Sigmoid": dict(SMALL, activation="sigmoid", init="xavier"),
    "MSE loss": dict(SMALL, sizes=[8, 10, 4], activation="sigmoid", output_activation="sigmoid", loss="mse",
                     init=("uniform", 1.0), bias=1.0),
}


def run(params, rng):
    options = dict(NETWORKS[params["network"]])
    sizes, samples, h = options.pop("sizes"), options.pop("samples"), options.pop("h")
    net = MLP(sizes, rng, **options)
    if sizes[0] == 784:
        data = dataset(params["dataset"])
        idx = rng.choice(len(data.x_train), samples, replace=False)
        x, t = data.x_train[idx], data.t_train[idx]
    else:
        x, t = rng.standard_normal((samples, sizes[0])), rng.integers(0, sizes[-1], samples)
    if options.get("loss") == "mse":
        t = np.eye(sizes[-1])[t]
    rec = bench.Recorder()
    passed = True
    for k, (name, (analytic, numerical)) in enumerate(network_gradients(net, x, t, h=h).items()):
        mad = float(np.mean(np.abs(analytic - numerical)))
        rel = relative_error(analytic, numerical)
        rec.log(f"mean_abs_diff:{name}", mad, k)
        rec.log(f"max_rel_error:{name}", rel, k)
        passed &= mad < MEAN_ABS_LIMIT and rel < REL_LIMIT
    rec.log("passed", float(passed), 0)
    return rec


def table(records):
    """One row per (network, parameter): mean abs difference, max relative error, pass, over seeds (worst)."""
    rows = records[records["metric"].str.contains(":")].copy()
    rows[["kind", "parameter"]] = rows["metric"].str.split(":", expand=True)
    wide = rows.pivot_table(index=["network", "parameter", "step"], columns="kind", values="value", aggfunc="max")
    wide = wide.reset_index().sort_values(["network", "step"]).drop(columns="step")
    wide["pass"] = (wide["mean_abs_diff"] < MEAN_ABS_LIMIT) & (wide["max_rel_error"] < REL_LIMIT)
    return wide


def plot(records):
    rows = table(records)
    fig, axes = figure(1, 1, width=8.5, height=0.28 * len(rows) + 1.2)
    ax = axes[0, 0]
    ax.axis("off")
    cells = [[n, p, f"{m:.1e}", f"{r:.1e}", "pass" if ok else "FAIL"]
             for n, p, m, r, ok in rows[["network", "parameter", "mean_abs_diff", "max_rel_error", "pass"]].values]
    tab = ax.table(cellText=cells, colLabels=["network", "param", "mean |backprop - numerical|",
                                              "max relative error", f"< {MEAN_ABS_LIMIT:g}, < {REL_LIMIT:g}"],
                   loc="center", cellLoc="left")
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    tab.scale(1, 1.2)
    ax.set_title("gradient check: backprop vs central differences (worst over seeds)")
    return {"gradient_check": fig}


EXPERIMENT = bench.Experiment(
    name="gradient_check",
    description="backprop vs numerical gradients: the book's 784-50-10 net on 3 samples, one net per layer type",
    run=run,
    plot=plot,
    shows=("network",),
    grid={"network": list(NETWORKS)},
    params={"network": Choice("which network is checked", *NETWORKS)},
    accepts=("images",),
    source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 5",
    datasets=("mnist", "fashion_mnist"),
    seeds=2,
    quick={"seeds": 1},
    metrics={"passed": Metric("max", 0.0, 1.0, margin=0.0)},
    summary_metrics=("passed",),
    headline=lambda records: f"{int(table(records)['pass'].sum())} of {len(table(records))} rows pass",
)

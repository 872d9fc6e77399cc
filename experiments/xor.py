"""The toy network on XOR: 2-H-1 sigmoid, W uniform(-1, 1), biases 1, one random sample per step."""

import numpy as np

import bench
import bench.params as P
from bench.params import Int
from bench.plotting import figure, spread_label
from bench.records import LOSS, Metric
from experiments.common import plot_metric
from nncore import MLP, make_optimizer
from nncore.datasets import load

INPUTS = ["00", "01", "10", "11"]


def toy_network(sizes, rng):
    """The toy's net: sigmoid in both layers, W uniform(-1, 1), biases 1, 0.5 * squared error."""
    return MLP(sizes, rng, activation="sigmoid", output_activation="sigmoid", loss="mse", init=("uniform", 1.0),
               bias=1.0)


def run(params, rng):
    data = load("xor")
    x, t = data.x_train, data.t_train.reshape(-1, 1).astype(np.float64)
    net = toy_network([2, params["hidden"], 1], rng)
    opt = make_optimizer("sgd", lr=params["lr"])
    rec = bench.Recorder()
    for step in range(params["steps"]):
        if step % params["log_every"] == 0:
            rec.log("cost", net.loss(x, t), step)
        i = rng.integers(0, 4)
        _, grads = net.gradient(x[i:i + 1], t[i:i + 1])
        opt.update(net.params, grads)
    rec.log("cost", net.loss(x, t), params["steps"])
    for name, out in zip(INPUTS, net.predict(x)[:, 0]):
        rec.log(f"output_{name}", out, params["steps"])
    rec.log("correct", float(np.all(np.round(net.predict(x)[:, 0]) == t[:, 0])), params["steps"])
    return rec


def plot(records):
    fig, axes = figure(1, 2, width=11, height=4.0)
    plot_metric(axes[0, 0], records, "cost", "hidden", labels={str(h): f"H={h}" for h in records["hidden"].unique()},
                bounds=LOSS.bounds)
    axes[0, 0].set_xlabel("steps")
    axes[0, 0].set_ylabel("cost (0.5 · squared error, mean over the 4 inputs)")
    axes[0, 0].set_yscale("log")
    axes[0, 0].legend()
    axes[0, 0].set_title(f"cost ({spread_label(records['seed'].nunique())})")
    ax = axes[0, 1]
    sizes = list(dict.fromkeys(records["hidden"]))
    width = 0.8 / len(sizes)
    for k, h in enumerate(sizes):
        rows = records[records["hidden"] == h]
        for j, name in enumerate(INPUTS):
            values = rows[rows["metric"] == f"output_{name}"]["value"]
            ax.scatter(np.full(len(values), j + (k - (len(sizes) - 1) / 2) * width), values, s=14, color=f"C{k}",
                       label=f"H={h}" if j == 0 else None)
    ax.set_xticks(range(4), [f"{a} xor {b}" for a, b in INPUTS])
    ax.axhline(0.5, color="gray", linewidth=0.8, linestyle=":")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("network output (one dot per seed)")
    ax.set_title("learned outputs (targets 0, 1, 1, 0)")
    ax.legend()
    return {"xor": fig}


EXPERIMENT = bench.Experiment(
    name="xor",
    description="the toy 2-H-1 sigmoid net learning XOR sample by sample, H in {2, 3, 20}",
    run=run,
    plot=plot,
    shows=("hidden",),
    grid={"hidden": [2, 3, 20], "steps": [30000], "lr": [0.1], "log_every": [1000]},
    params={"hidden": P.WIDTH, "steps": P.STEPS, "lr": P.LR,
            "log_every": Int("log the cost every N steps", 1, P.MAX_STEPS)},
    source="the classic per-sample two-layer sigmoid network (docs/sources.md)",
    datasets=("xor",),
    seeds=5,
    quick={"steps": [30000], "seeds": 5, "hidden": [20]},
    metrics={"cost": LOSS, "correct": Metric("max", 0.0, 1.0, margin=0.0)},
)

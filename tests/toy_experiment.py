"""A tiny experiment for the harness's own tests: seconds to run, with knobs to fail or diverge."""

import time

import bench
import bench.params as P
from bench.params import Choice, Float
from bench.plotting import figure, mean_ci, spread
from nncore import MLP, make_optimizer
from nncore.datasets import load


def run(params, rng):
    data = load("moons", n=100, noise=0.2, seed=0)
    net = MLP([2, params["hidden"], 2], rng, activation="tanh", init="xavier")
    opt = make_optimizer("sgd", lr=params["lr"])
    rec = bench.Recorder()
    for step in range(params["steps"]):
        idx = rng.choice(100, 20)
        loss, grads = net.gradient(data.x_train[idx], data.t_train[idx])
        if params["mode"] == "diverge" and step == 3:
            loss = float("nan")
        rec.log("loss", loss, step, epoch=step / 5)
        opt.update(net.params, grads)
        time.sleep(params["sleep"])
    if params["mode"] == "fail":
        raise RuntimeError("boom on purpose")
    rec.log("accuracy", net.accuracy(data.x_test, data.t_test), params["steps"])
    return rec


def plot(records):
    fig, axes = figure()
    stats = mean_ci(records, "loss", ["lr"])
    for lr, group in stats.groupby("lr"):
        spread(axes[0, 0], group, "step", label=f"lr {lr}")
    axes[0, 0].legend()
    return {"loss": fig}


EXPERIMENT = bench.Experiment(
    name="toy",
    description="tiny moons net for the harness tests",
    run=run,
    plot=plot,
    shows=("lr",),
    grid={"lr": [0.1, 0.5], "hidden": [4], "steps": [30], "mode": ["ok"], "sleep": [0.0]},
    datasets=("moons",),
    seeds=2,
    quick={"steps": [10], "seeds": 1},
    metrics={"loss": "min", "accuracy": "max"},
    params={"lr": P.LR, "hidden": P.WIDTH, "steps": P.STEPS, "mode": Choice("what the cell does", "ok", "fail",
                                                                             "diverge"),
            "sleep": Float("seconds to sleep per step", 0, 10)},
)

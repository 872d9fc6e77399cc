"""L2 weight decay against overfitting (the book, ch. 6): lambda 0 vs 0.1."""

import bench
from experiments.overfitting import DATASETS, METRICS, QUICK, grid, plot_gap, run_overfit


def run(params, rng):
    return run_overfit(params, rng, weight_decay=params["weight_decay"])


def plot(records):
    return {"weight_decay": plot_gap(records, "weight_decay", "weight decay λ")}


EXPERIMENT = bench.Experiment(
    name="weight_decay",
    description="784-100x6-10 ReLU on 300 images, 201 epochs: train-test gap with weight decay 0 vs 0.1",
    run=run,
    plot=plot,
    grid={"weight_decay": [0.0, 0.1], **grid(201)},
    datasets=DATASETS,
    seeds=3,
    quick=QUICK,
    metrics=METRICS,
)

"""Dropout against overfitting (the book, ch. 6): ratio 0 vs 0.2."""

import bench
from experiments.overfitting import DATASETS, METRICS, QUICK, grid, plot_gap, run_overfit


def run(params, rng):
    return run_overfit(params, rng, dropout=params["dropout"])


def plot(records):
    return {"dropout": plot_gap(records, "dropout", "dropout ratio")}


EXPERIMENT = bench.Experiment(
    name="dropout",
    description="784-100x6-10 ReLU on 300 images, 301 epochs: train-test gap with dropout 0 vs 0.2",
    run=run,
    plot=plot,
    grid={"dropout": [0.0, 0.2], **grid(301)},
    datasets=DATASETS,
    seeds=3,
    quick=QUICK,
    metrics=METRICS,
)

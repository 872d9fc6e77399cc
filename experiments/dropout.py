"""Dropout against overfitting (the book, ch. 6): ratio 0 vs 0.2."""

from bench.params import Float
from experiments.overfitting import overfitting_experiment

EXPERIMENT = overfitting_experiment(
    "dropout", "784-100x6-10 ReLU on 300 images, 301 epochs: train-test gap with dropout 0 vs 0.2",
    axis="dropout", values=[0.0, 0.2], epochs=301, label="dropout ratio",
    axis_param=Float("dropout ratio of every hidden layer", 0, 1, high_open=True))

"""L2 weight decay against overfitting (the book, ch. 6): lambda 0 vs 0.1."""

from bench.params import Float
from experiments.overfitting import overfitting_experiment

EXPERIMENT = overfitting_experiment(
    "weight_decay", "784-100x6-10 ReLU on 300 images, 201 epochs: train-test gap with weight decay 0 vs 0.1",
    axis="weight_decay", values=[0.0, 0.1], epochs=201, label="weight decay λ",
    axis_param=Float("L2 weight decay λ", 0))

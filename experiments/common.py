"""What the experiments share: cached data, the book's training loop, loss-curve figures."""

import os
from functools import lru_cache

import numpy as np

from bench.plotting import kaiser_smooth, levels, mean_ci, palette, spread
from bench.records import ACCURACY, LOSS
from nncore.checks import count
from nncore.datasets import load
from nncore.datasets.mnist import DATA_ENV


def dataset(name, dtype="float64", **options):
    """A dataset, loaded once per process and shared by the cells that run there: treat it as read-only.
    Where the files are found is part of the key: a reused worker never serves another run's data."""
    return _dataset(name, dtype, tuple(os.environ.get(k) for k in DATA_ENV), **options)


@lru_cache(maxsize=4)
def _dataset(name, dtype, where, **options):
    return load(name, dtype=np.dtype(dtype), **options)


class BatchSampler:
    """The book's mini-batches: `batch` indices drawn with replacement each iteration, gathered into
    preallocated arrays (no new batch array per step)."""

    def __init__(self, x, t, batch, rng):
        self.x, self.t, self.batch, self.rng = x, t, count("batch", batch), rng
        self.xb = np.empty((batch,) + x.shape[1:], x.dtype)
        self.tb = np.empty((batch,) + t.shape[1:], t.dtype)

    def __call__(self):
        idx = self.rng.integers(0, len(self.x), self.batch)
        np.take(self.x, idx, axis=0, out=self.xb)
        np.take(self.t, idx, axis=0, out=self.tb)
        return self.xb, self.tb


def train(net, optimizer, data, rec, iterations, batch, rng, every=None, evaluate=None):
    """Book-style training: each iteration one with-replacement mini-batch, one gradient, one update.
    Logs the training loss of every iteration (from the gradient's own forward pass) as step =
    iteration; calls evaluate(step) after every `every` updates and after the last."""
    n = len(data.x_train)
    sample = BatchSampler(data.x_train, data.t_train, batch, rng)
    for it in range(iterations):
        loss, grads = net.gradient(*sample())
        rec.log("loss", loss, it, epoch=it * batch / n)
        optimizer.update(net.params, grads)
        done = it + 1
        if evaluate and ((every and done % every == 0) or done == iterations):
            evaluate(done)


def plot_loss_curves(ax, records, by, labels=None, smooth=True, ylim=(0, 1), colors=None):
    """Smoothed training loss over seeds, one line per value of `by`; `colors` (level -> colour) is
    the figure's palette when the panel shows only part of its records."""
    stats = mean_ci(records, "loss", [by], smooth=kaiser_smooth if smooth else None, bounds=LOSS.bounds)
    colors = colors or palette(levels(records, by))
    for value, group in stats.groupby(by, sort=False):
        spread(ax, group, "step", label=(labels or {}).get(str(value), str(value)), color=colors[value])
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend()


def plot_metric(ax, records, metric, by, labels=None, x="step", linestyle="-", colors=None, bounds=ACCURACY.bounds):
    """One metric over `x` over seeds, one line per value of `by` (labels keyed by str); `bounds`: the
    metric's range (an accuracy's by default)."""
    stats = mean_ci(records, metric, [by], x=x, bounds=bounds)
    colors = colors or palette(levels(records, by))
    for value, group in stats.groupby(by, sort=False):
        spread(ax, group, x, label=(labels or {}).get(str(value), str(value)), linestyle=linestyle,
               color=colors[value])

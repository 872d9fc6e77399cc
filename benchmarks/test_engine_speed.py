"""Forward/backward of each layer at the book's sizes, the full training steps, and their floor.

Run: python -m pytest benchmarks -n 0 --benchmark-enable --benchmark-columns=median,iqr,ops
"""

import numpy as np
import pytest

import nncore
from benchmarks.side_by_side import STEPS as SIDE_BY_SIDE_STEPS
from nncore.floor import floor_products, step_vs_floor, training_step
from nncore.layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, Tanh
from nncore.losses import SoftmaxCrossEntropy

DTYPES = {"float64": np.float64, "float32": np.float32}
BATCH = 128


def layer(kind, rng, dt):
    return {
        "affine784x100": lambda: Affine(rng.standard_normal((784, 100)).astype(dt), np.zeros(100, dt)),
        "affine100x100": lambda: Affine(rng.standard_normal((100, 100)).astype(dt), np.zeros(100, dt)),
        "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh,
        "batchnorm": lambda: BatchNorm(np.ones(100, dt), np.zeros(100, dt)),
        "dropout": lambda: Dropout(0.5, rng),
    }[kind]()


KINDS = ["affine784x100", "affine100x100", "relu", "sigmoid", "tanh", "batchnorm", "dropout"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_layer_forward(benchmark, kind, dtype):
    rng = np.random.default_rng(0)
    lay = layer(kind, rng, DTYPES[dtype])
    x = rng.standard_normal((BATCH, 784 if kind == "affine784x100" else 100)).astype(DTYPES[dtype])
    benchmark(lay.forward, x, True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_layer_backward(benchmark, kind, dtype):
    rng = np.random.default_rng(0)
    dt = DTYPES[dtype]
    lay = layer(kind, rng, dt)
    x = rng.standard_normal((BATCH, 784 if kind == "affine784x100" else 100)).astype(dt)
    out = lay.forward(x, True)
    dout = rng.standard_normal(out.shape).astype(dt)

    def fresh():
        # backward may overwrite dout in place (Layer.backward says so): Dropout's would double it every
        # round until it overflowed. Each round gets the same realistic values; the copy is not timed.
        return (dout.copy(),), {}

    benchmark.pedantic(lay.backward, setup=fresh, rounds=2000, warmup_rounds=50)


def test_softmax_cross_entropy(benchmark):
    rng = np.random.default_rng(0)
    loss = SoftmaxCrossEntropy()
    y, t = rng.standard_normal((BATCH, 10)), rng.integers(0, 10, BATCH)

    def both():
        loss.forward(y, t)
        loss.backward()

    benchmark(both)


STEPS = {label: config for label, *config in SIDE_BY_SIDE_STEPS}  # (sizes, batch, batch norm, targets)


def build(name, dtype):
    sizes, batch, bn, _ = STEPS[name]
    rng = np.random.default_rng(0)
    dt = DTYPES[dtype]
    net = nncore.MLP(sizes, rng, batchnorm=bn, dtype=dt)
    x = rng.random((batch, 784)).astype(dt)
    t = rng.integers(0, 10, batch)
    return net, x, t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", STEPS)
def test_training_step(benchmark, record_ratio, name, dtype):
    net, x, t = build(name, dtype)
    benchmark(training_step(net, nncore.SGD(), x, t))
    ratio = step_vs_floor(net, nncore.SGD(), x, t, repeat=40)
    benchmark.extra_info.update(ratio)
    record_ratio(f"{name}, {dtype}", ratio, STEPS[name][3][dtype])
    assert np.isfinite(ratio["ratio"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", STEPS)
def test_floor(benchmark, name, dtype):
    net, x, _ = build(name, dtype)
    benchmark(floor_products(net, x.shape[0]))

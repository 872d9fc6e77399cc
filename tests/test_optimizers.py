"""Each optimizer against the book's update rule written out plainly, and on a quadratic bowl."""

import numpy as np
import pytest

import nncore
from nncore.optimizers import OPTIMIZERS, axpy, make_optimizer


def reference_steps(name, p, grads_seq, lr):
    """The book's formulas, one line each, with no buffers or BLAS."""
    p = p.copy()
    v = np.zeros_like(p)
    h = np.zeros_like(p)
    m = np.zeros_like(p)
    for it, g in enumerate(grads_seq, start=1):
        if name == "sgd":
            p -= lr * g
        elif name == "momentum":
            v = 0.9 * v - lr * g
            p += v
        elif name == "nesterov":
            v = 0.9 * v - lr * g
            p += 0.9 * 0.9 * v - (1 + 0.9) * lr * g
        elif name == "adagrad":
            h += g * g
            p -= lr * g / (np.sqrt(h) + 1e-7)
        elif name == "rmsprop":
            h = 0.99 * h + 0.01 * g * g
            p -= lr * g / (np.sqrt(h) + 1e-7)
        elif name == "adam":
            lr_t = lr * np.sqrt(1 - 0.999**it) / (1 - 0.9**it)
            m += 0.1 * (g - m)
            v += 0.001 * (g * g - v)
            p -= lr_t * m / (np.sqrt(v) + 1e-7)
    return p


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_reference(name, dtype):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((5, 3)).astype(dtype)
    grads_seq = [rng.standard_normal((5, 3)).astype(dtype) for _ in range(4)]
    opt = make_optimizer(name)
    params = {"W": p0.copy()}
    alias = params["W"]
    for g in grads_seq:
        opt.update(params, {"W": g})
    assert params["W"] is alias, "updates must be in place"
    expected = reference_steps(name, p0.astype(np.float64), [g.astype(np.float64) for g in grads_seq], opt.lr)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(params["W"], expected, rtol=tol, atol=tol)


def test_book_defaults():
    assert [make_optimizer(n).lr for n in OPTIMIZERS] == [0.01, 0.01, 0.01, 0.01, 0.01, 0.001]
    assert make_optimizer("adam", lr=0.1).lr == 0.1
    assert make_optimizer("Momentum").momentum == 0.9


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_descends_a_quadratic(name):
    target = np.array([1.0, -2.0, 3.0])
    params = {"w": np.zeros(3)}
    opt = make_optimizer(name, lr=0.1 if name != "sgd" else 0.05)
    for _ in range(300):
        opt.update(params, {"w": params["w"] - target})
    assert np.sum((params["w"] - target) ** 2) < 0.05 * np.sum(target**2)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'.*sgd"):
        make_optimizer("adamw")


def test_axpy_handles_non_contiguous():
    y = np.zeros((4, 4))
    x = np.ones((4, 4))
    axpy(2.0, x[:, ::2], y[:, ::2])
    assert y.sum() == 16 and y[0, 1] == 0


def test_optimizer_trains_a_network():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4))
    t = (x[:, 0] + x[:, 1] > 0).astype(int)
    net = nncore.MLP([4, 16, 2], rng)
    opt = nncore.Adam(lr=0.01)
    first = net.loss(x, t)
    for _ in range(200):
        opt.update(net.params, net.gradient(x, t)[1])
    assert net.loss(x, t) < 0.3 * first
    assert net.accuracy(x, t) > 0.95

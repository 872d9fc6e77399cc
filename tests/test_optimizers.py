"""Each optimizer against a reference written from its paper in another formulation, and on a quadratic bowl."""

import numpy as np
import pytest

import nncore
from nncore.optimizers import BLAS_MIN_SIZE, OPTIMIZERS, axpy, make_optimizer


# Each reference is written from its paper in a formulation other than the engine's (closed forms,
# cumulative sums, a change of variables), so one mistaken formula cannot sit in both places.
def ref_sgd(p0, grads, lr):
    return p0 - lr * np.sum(grads, axis=0)


def ref_momentum(p0, grads, lr, momentum=0.9):
    """Polyak's heavy ball without a velocity: p[t+1] = p[t] - lr*g[t] + m*(p[t] - p[t-1])."""
    prev, p = p0, p0
    for g in grads:
        prev, p = p, p - lr * g + momentum * (p - prev)
    return p


def ref_nesterov(p0, grads, lr, momentum=0.9):
    """Sutskever et al. 2013, eq. 3-4: v = m*v - lr*grad(theta + m*v); theta += v. The engine keeps
    the look-ahead point P = theta + m*v (Bengio et al. 2012), where its gradients are taken."""
    theta, v = p0.copy(), np.zeros_like(p0)  # v = 0 at the start, so P = theta = p0
    for g in grads:  # g: the gradient at the look-ahead point theta + m*v
        v = momentum * v - lr * g
        theta = theta + v
    return theta + momentum * v


def ref_adagrad(p0, grads, lr, eps=1e-7):
    """Duchi et al. 2011: each step divides by the root of the running sum of squared gradients."""
    g = np.asarray(grads)
    return p0 - lr * np.sum(g / (np.sqrt(np.cumsum(g * g, axis=0)) + eps), axis=0)


def ref_rmsprop(p0, grads, lr, decay=0.99, eps=1e-7):
    """Tieleman & Hinton 2012, with the moving average in closed form: h[t] = sum (1-r) r^(t-s) g[s]^2."""
    g = np.asarray(grads)
    p = p0.copy()
    for t in range(len(g)):
        weights = (1 - decay) * decay ** np.arange(t, -1, -1.0)
        h = np.tensordot(weights, g[: t + 1] ** 2, axes=1)
        p = p - lr * g[t] / (np.sqrt(h) + eps)
    return p


def ref_adam(p0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-7):
    """Kingma & Ba 2015, Algorithm 1, bias-corrected moments. The book folds the correction into the
    step size (the paper's section 2 form), which equals Algorithm 1 with eps / sqrt(1 - beta2^t)."""
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps / np.sqrt(1 - beta2**t))
    return p


REFERENCES = {"sgd": (ref_sgd, {}), "momentum": (ref_momentum, {"momentum": 0.8}),
              "nesterov": (ref_nesterov, {"momentum": 0.8}), "adagrad": (ref_adagrad, {}),
              "rmsprop": (ref_rmsprop, {"decay_rate": 0.95}), "adam": (ref_adam, {"beta1": 0.8, "beta2": 0.99})}


def reference(name, p0, grads, lr, **hyper):
    fn, _ = REFERENCES[name]
    renamed = {"decay_rate": "decay"}
    return fn(p0, grads, lr, **{renamed.get(k, k): v for k, v in hyper.items()})


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("hyper", ["defaults", "other"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(5, 3), (40, 30)], ids=["numpy-path", "blas-path"])
def test_matches_independent_reference(name, hyper, dtype, shape):
    """50 random gradients, the book's defaults and other hyperparameters, float64 and float32, on
    parameters small enough for axpy's NumPy path and large enough for its BLAS one."""
    assert (np.prod(shape) >= BLAS_MIN_SIZE) == (shape == (40, 30))
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(50)]
    kwargs = {} if hyper == "defaults" else {"lr": 0.03, **REFERENCES[name][1]}
    opt = make_optimizer(name, **kwargs)
    params = {"W": p0.copy()}
    alias = params["W"]
    for g in grads:
        opt.update(params, {"W": g})
    assert params["W"] is alias, "updates must be in place"
    extra = {k: v for k, v in kwargs.items() if k != "lr"}
    expected = reference(name, p0.astype(np.float64), [g.astype(np.float64) for g in grads], opt.lr, **extra)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(params["W"], expected, rtol=tol, atol=tol)


def test_nesterov_on_a_quadratic_takes_gradients_at_the_look_ahead_point():
    """Sutskever's form evaluates the gradient at theta + m*v; the engine's parameters are that
    point, so on f(p) = 0.5 p'Ap - b'p both trajectories coincide step by step."""
    rng = np.random.default_rng(1)
    q = rng.standard_normal((4, 4))
    a, b = q @ q.T + np.eye(4), rng.standard_normal(4)
    lr, m = 0.05, 0.9
    theta, v = np.zeros(4), np.zeros(4)
    params = {"p": np.zeros(4)}
    opt = make_optimizer("nesterov", lr=lr, momentum=m)
    for _ in range(40):
        v = m * v - lr * (a @ (theta + m * v) - b)
        theta = theta + v
        opt.update(params, {"p": a @ params["p"] - b})
        np.testing.assert_allclose(params["p"], theta + m * v, rtol=1e-12, atol=1e-12)


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
    y = np.zeros((40, 40))
    x = np.ones((40, 40))
    axpy(2.0, x[:, ::2], y[:, ::2])
    assert y.sum() == 1600 and y[0, 1] == 0


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

"""nncore.optimizers: each against its paper in another formulation, axpy, and state per parameter."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nncore
from nncore import optimizers
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


def test_axpy_with_one_side_non_contiguous():
    """BLAS works on flat contiguous memory: with either side strided, the update must still land in y."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 60)), rng.standard_normal((40, 60))  # halves above BLAS_MIN_SIZE
    for xs, ys in ((x[:, :30].copy(), y[:, ::2]), (x[:, ::2], y[:, :30].copy()), (x.T.copy(), y.T)):
        want = ys + 0.5 * xs
        axpy(0.5, xs, ys)
        np.testing.assert_allclose(ys, want, rtol=1e-15)


def test_axpy_fallback_on_non_contiguous_and_mixed_dtype():
    rng = np.random.default_rng(3)
    y, x = rng.standard_normal((40, 60)), rng.standard_normal((40, 60))  # halves above BLAS_MIN_SIZE
    want = y.copy()
    want[:, ::2] += 2.5 * x[:, ::2]
    axpy(2.5, x[:, ::2], y[:, ::2])
    np.testing.assert_allclose(y, want, rtol=1e-15)
    y32, x64 = np.ones(BLAS_MIN_SIZE, np.float32), np.full(BLAS_MIN_SIZE, 2.0)
    axpy(0.5, x64, y32)
    np.testing.assert_array_equal(y32, np.full(BLAS_MIN_SIZE, 2.0, np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_axpy_calls_blas_from_blas_min_size_on_contiguous_arrays_of_one_dtype(monkeypatch, dtype):
    calls = []

    def blas(x, y, a):
        calls.append(x.size)
        y += a * x

    monkeypatch.setattr(optimizers, "_blas_axpy", lambda dt: blas if dt == np.dtype(dtype) else None)
    for size in (BLAS_MIN_SIZE - 1, BLAS_MIN_SIZE, 4 * BLAS_MIN_SIZE):
        y = np.ones((size, 1), dtype)
        axpy(-0.5, np.full((size, 1), 2.0, dtype), y)
        np.testing.assert_array_equal(y, 0)
    assert calls == [BLAS_MIN_SIZE, 4 * BLAS_MIN_SIZE]  # 2-D arrays go to BLAS flattened


def test_a_blas_library_loaded_for_axpy_keeps_the_thread_limit_in_force():
    """threadpoolctl limits the libraries loaded when it is entered: scipy's own BLAS, loaded at the first
    large update inside a cell's one-thread limit, must not start with a thread per core."""
    code = ("import numpy as np, nncore\n"
            "from threadpoolctl import threadpool_info, threadpool_limits\n"
            "with threadpool_limits(limits=1, user_api='blas'):\n"
            "    nncore.optimizers.axpy(1.0, np.ones(4096), np.zeros(4096))\n"
            "    print([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'])")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    threads = json.loads(out)
    assert threads and set(threads) == {1}


def test_small_updates_never_import_scipy_linalg():
    """A process that trains only small nets (biases, XOR) is spared scipy.linalg's import."""
    code = ("import sys, numpy as np, nncore\n"
            "net = nncore.MLP([2, 16, 2], np.random.default_rng(0))\n"
            "opt = nncore.Adam()\n"
            "for _ in range(3):\n"
            "    opt.update(net.params, net.gradient(np.ones((4, 2)), np.array([0, 1, 0, 1]))[1])\n"
            "print('scipy.linalg' in sys.modules)\n"
            "big = np.zeros(4096)\n"
            "nncore.optimizers.axpy(1.0, np.ones(4096), big)\n"
            "print('scipy.linalg' in sys.modules, big.sum())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "4096.0"]


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_optimizer_state_is_per_parameter(name):
    """Two same-shaped parameters with different gradients must not share state."""
    rng = np.random.default_rng(4)
    g1, g2 = rng.standard_normal(3), rng.standard_normal(3)
    together = {"a": np.zeros(3), "b": np.zeros(3)}
    opt = make_optimizer(name)
    alone_a, alone_b = {"a": np.zeros(3)}, {"b": np.zeros(3)}
    opt_a, opt_b = make_optimizer(name), make_optimizer(name)
    for _ in range(5):
        opt.update(together, {"a": g1, "b": g2})
        opt_a.update(alone_a, {"a": g1})
        opt_b.update(alone_b, {"b": g2})
    np.testing.assert_allclose(together["a"], alone_a["a"], rtol=1e-14)
    np.testing.assert_allclose(together["b"], alone_b["b"], rtol=1e-14)

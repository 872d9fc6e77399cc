"""Properties a wrong engine would break, each checked against a reference that does not come from the
code under test: a hand computation, a definition, or a different formulation."""

import gzip
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import log_softmax

import nncore
from nncore import optimizers
from nncore.datasets import DatasetError, read_idx
from nncore.gradcheck import numerical_gradient, relative_error
from nncore.layers import ACTIVATIONS, BatchNorm, Dropout
from nncore.optimizers import BLAS_MIN_SIZE, axpy, make_optimizer


def batchnorm_reference(x, gamma, beta, eps=1e-6):
    """Ioffe & Szegedy 2015, Algorithm 1, written out: normalise each column, scale and shift."""
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def test_batchnorm_forward_with_moved_gamma_and_beta():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5)) * 3 + 1
    gamma, beta = rng.uniform(0.5, 2, 5), rng.standard_normal(5)
    bn = BatchNorm(gamma.copy(), beta.copy())
    np.testing.assert_allclose(bn.forward(x, train=True), batchnorm_reference(x, gamma, beta), rtol=1e-12)
    # Evaluation uses the running statistics; after one batch with momentum 0.9 they are 0.1 of the batch's.
    mean, var = x.mean(axis=0), x.var(axis=0)
    expected = gamma * (x - 0.1 * mean) / np.sqrt(0.1 * var + 1e-6) + beta
    np.testing.assert_allclose(bn.forward(x, train=False), expected, rtol=1e-12)


def test_batchnorm_running_statistics_are_the_books_exponential_average_of_population_variances():
    """What the docstring claims, from definitions outside NumPy: after k batches with momentum m, the
    running statistic is sum_i (1 - m) m^(k-1-i) s_i (the moving average in closed form, starting at 0),
    where s_i is the batch's mean and its population variance (statistics.pvariance: the biased one, as
    the book's code keeps; Ioffe & Szegedy's inference step would use statistics.variance instead)."""
    import statistics

    rng = np.random.default_rng(1)
    bn = BatchNorm(np.ones(3), np.zeros(3))
    assert bn.momentum == 0.9  # the book's default
    batches = [rng.standard_normal((8, 3)) * 2 + 5 for _ in range(4)]
    for x in batches:
        bn.forward(x, train=True)

    def average(statistic):
        k = len(batches)
        return [math.fsum((1 - 0.9) * 0.9 ** (k - 1 - i) * statistic(list(x[:, j])) for i, x in enumerate(batches))
                for j in range(3)]

    np.testing.assert_allclose(bn.running_mean, average(statistics.fmean), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, average(statistics.pvariance), rtol=1e-12)
    assert not np.allclose(bn.running_var, average(statistics.variance), rtol=1e-3)  # not the unbiased one


def test_activations_are_what_their_names_say():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"]().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(ACTIVATIONS["tanh"]().forward(x), np.tanh(x), rtol=1e-14)
    np.testing.assert_array_equal(ACTIVATIONS["relu"]().forward(x), np.maximum(x, 0))
    net = nncore.MLP([5, 3, 2], np.random.default_rng(0), activation="tanh")
    assert type(net.layers[1]).__name__ == "Tanh"


def test_evaluation_mode_is_deterministic_and_is_what_accuracy_uses():
    """Dropout and BatchNorm in training mode change the outputs from call to call; evaluation does not,
    and accuracy, predict and loss evaluate."""
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((64, 6)), rng.integers(0, 3, 64)
    net = nncore.MLP([6, 20, 3], rng, dropout=0.5, batchnorm=True)
    for _ in range(3):
        net.gradient(x, t)  # moves the running statistics
    first = net.predict(x)
    np.testing.assert_array_equal(net.predict(x), first)
    assert net.accuracy(x, t) == np.mean(first.argmax(axis=1) == t)
    cross_entropy = -np.mean(log_softmax(first, axis=1)[np.arange(64), t])  # scipy's, not the engine's formula
    assert net.loss(x, t) == pytest.approx(cross_entropy, rel=1e-12)
    np.testing.assert_array_equal(net.predict(x), first)  # evaluating changed nothing
    assert not np.allclose(net.predict(x, train=True), net.predict(x, train=True))


def test_dropout_ratio_one_is_refused_and_keeps_the_expectation():
    with pytest.raises(ValueError):
        Dropout(1.0, np.random.default_rng(0))
    drop = Dropout(0.3, np.random.default_rng(0))
    out = drop.forward(np.ones((2000, 50)), train=True)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7], rtol=1e-15)
    assert out.mean() == pytest.approx(1.0, abs=0.01) and np.mean(out == 0) == pytest.approx(0.3, abs=0.01)


def test_relative_error_on_known_values():
    assert relative_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    assert relative_error([0.0], [1e-6]) == pytest.approx(1e-6 / 1e-4)  # below the floor: scaled by 1 / floor
    assert relative_error([1.0, -2.0], [1.0, -2.0]) == 0.0
    assert np.isnan(relative_error([np.nan], [1.0]))


def test_numerical_gradient_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-9)  # h = 1e-5: central differences err by h^2
    np.testing.assert_array_equal(x, [0.3, -1.2, 2.0])  # restored


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


def idx_bytes(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + np.array(dims, ">u4").tobytes() + payload


@pytest.mark.parametrize("code, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, ">i2"), (0x0C, ">i4"),
                                         (0x0D, ">f4"), (0x0E, ">f8")])
def test_idx_type_codes_from_the_format_definition(tmp_path, code, dtype):
    """The codes as LeCun's page defines them, written by hand, not by nncore's writer."""
    values = np.array([[1, 2, 3], [4, 5, 6]]).astype(dtype)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(code, [2, 3], values.tobytes()))
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype).newbyteorder("=") and np.array_equal(got, values)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(path.read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "a.idx.gz"), values)


@pytest.mark.parametrize("data, message", [
    (bytes([1, 0, 8, 1]) + b"\0\0\0\1" + b"x", "bad magic"),
    (bytes([0, 1, 8, 1]) + b"\0\0\0\1" + b"x", "bad magic"),
    (bytes([0, 0, 7, 1]) + b"\0\0\0\1" + b"x", "bad magic"),
    (bytes([0, 0, 8]), "bad magic"),
    (bytes([0, 0, 8, 0]), "truncated: 0 of 1"),  # a whole magic number, no data: not a bad magic
    (bytes([0, 0, 8, 2]) + b"\0\0\0\1", "truncated inside its header"),
    (bytes([0, 0, 8, 1]) + b"\0\0\0\3" + b"xy", "truncated: 2 of 3"),
    (bytes([0, 0, 8, 1]) + b"\0\0\0\1" + b"xy", "1 bytes past the data"),
])
def test_idx_header_checks(tmp_path, data, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=message):
        read_idx(path)


def test_an_idx_file_of_exactly_four_bytes_with_no_dimensions_is_a_scalar(tmp_path):
    path = tmp_path / "scalar.idx"
    path.write_bytes(idx_bytes(0x08, [], b"\x07"))
    assert read_idx(path).tolist() == 7


def test_numerical_gradient_accumulates_in_float64():
    x = np.array([0.3, -1.2, 2.0], np.float32)
    grad = numerical_gradient(lambda: float(np.sum(x.astype(np.float64) ** 2)), x, h=1e-3)
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, 2 * x.astype(np.float64), rtol=1e-4)


def test_the_step_h_is_the_one_asked_for():
    """A coarse step makes central differences visibly wrong on a curved function: if h were ignored,
    both checks would give the same error."""
    from nncore.gradcheck import check_layer, check_loss, check_network, network_gradients
    from nncore.layers import Sigmoid
    from nncore.losses import SoftmaxCrossEntropy

    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3)) * 2
    fine, coarse = check_layer(Sigmoid(), x, np.random.default_rng(0)), check_layer(Sigmoid(), x,
                                                                                      np.random.default_rng(0), h=0.5)
    assert fine["x"] < 1e-8 < 1e-3 < coarse["x"]
    y, t = rng.standard_normal((4, 5)) * 3, rng.integers(0, 5, 4)
    assert check_loss(SoftmaxCrossEntropy(), y, t) < 1e-6 < 1e-3 < check_loss(SoftmaxCrossEntropy(), y, t, h=1.0)
    net = nncore.MLP([3, 4, 2], np.random.default_rng(1), activation="tanh")
    xt, tt = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    assert max(check_network(net, xt, tt).values()) < 1e-6 < 1e-3 < max(check_network(net, xt, tt, h=1.0).values())
    assert all(relative_error(a, n) < 1e-6 for a, n in network_gradients(net, xt, tt).values())

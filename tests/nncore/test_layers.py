"""nncore.layers: modes, masks, buffers, batch norm by its definition, and gradients."""

import math

import numpy as np
import pytest

import nncore
from nncore.gradcheck import (
    check_layer,
)
from nncore.layers import ACTIVATIONS, Affine, BatchNorm, Dropout, ReLU, Sigmoid, Tanh
from tests.nncore.conftest import assert_small


def test_batchnorm_train_normalizes_and_eval_uses_running_averages():
    rng = np.random.default_rng(0)
    bn = BatchNorm(np.ones(3), np.zeros(3), momentum=0.0)  # momentum 0: running stats = last batch
    x = rng.standard_normal((50, 3)) * [1.0, 5.0, 0.1] + [3.0, -2.0, 7.0]
    out = bn.forward(x, train=True).copy()
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12)
    var = x.var(axis=0)
    np.testing.assert_allclose(out.std(axis=0), np.sqrt(var / (var + 1e-6)))  # eps 1e-6, as the book
    np.testing.assert_allclose(bn.running_mean, x.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, x.var(axis=0))
    # In evaluation a single row is normalized with the stored statistics, not its own.
    row = bn.forward(x[:1], train=False)
    np.testing.assert_allclose(row, out[:1], atol=1e-5)


def test_batchnorm_running_average_momentum():
    bn = BatchNorm(np.ones(2), np.zeros(2), momentum=0.9)
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    bn.forward(x, train=True)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, 0.1 * x.var(axis=0))


def test_dropout_is_inverted_and_identity_in_eval():
    rng = np.random.default_rng(0)
    drop = Dropout(0.25, rng)
    x = np.ones((400, 250))
    out = drop.forward(x, train=True)
    kept = out != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    assert np.allclose(out[kept], 1 / 0.75)
    assert drop.forward(x, train=False) is x


def test_dropout_masks_come_from_the_generator():
    a = Dropout(0.5, np.random.default_rng(7)).forward(np.ones((5, 5)), train=True).copy()
    b = Dropout(0.5, np.random.default_rng(7)).forward(np.ones((5, 5)), train=True).copy()
    c = Dropout(0.5, np.random.default_rng(8)).forward(np.ones((5, 5)), train=True).copy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_dropout_float32_keeps_dtype():
    out = Dropout(0.5, np.random.default_rng(0)).forward(np.ones((3, 4), np.float32), train=True)
    assert out.dtype == np.float32


def test_layers_reuse_buffers_once_warm():
    relu = ReLU()
    x = np.random.default_rng(0).standard_normal((8, 4))
    first = relu.forward(x)
    assert relu.forward(x) is first


def test_batchnorm_momentum_one_keeps_the_running_statistics():
    bn = BatchNorm(np.ones(2), np.zeros(2), momentum=1.0)
    bn.forward(np.array([[1.0, 2.0], [3.0, 5.0]]), train=True)
    np.testing.assert_array_equal(bn.running_mean, [0, 0])
    np.testing.assert_array_equal(bn.running_var, [0, 0])


def test_forward_evaluates_unless_asked_to_train():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3)) + 2
    bn = BatchNorm(np.ones(3), np.zeros(3))
    np.testing.assert_allclose(bn.forward(x), x / np.sqrt(1e-6), rtol=1e-15)  # running mean and var start at 0
    drop = Dropout(0.5, rng)
    assert drop.forward(x) is x
    net = nncore.MLP([3, 8, 2], rng, dropout=0.5, batchnorm=True)
    np.testing.assert_array_equal(net.forward(x).copy(), net.forward(x, train=False))  # forward reuses its output
    assert net.loss(x, np.zeros(6, int)) == net.loss(x, np.zeros(6, int), train=False)


def test_a_layer_without_its_own_passes_says_so():
    from nncore.layers import Layer

    with pytest.raises(NotImplementedError):
        Layer().forward(np.ones((1, 2)))
    with pytest.raises(NotImplementedError):
        Layer().backward(np.ones((1, 2)))


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


def test_dropout_ratio_one_is_refused_and_keeps_the_expectation():
    with pytest.raises(ValueError):
        Dropout(1.0, np.random.default_rng(0))
    drop = Dropout(0.3, np.random.default_rng(0))
    out = drop.forward(np.ones((2000, 50)), train=True)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7], rtol=1e-15)
    assert out.mean() == pytest.approx(1.0, abs=0.01) and np.mean(out == 0) == pytest.approx(0.3, abs=0.01)


def make_layer(kind, rng):
    return {
        "affine": lambda: Affine(rng.standard_normal((6, 4)), rng.standard_normal(4)),
        "relu": ReLU,
        "sigmoid": Sigmoid,
        "tanh": Tanh,
        "batchnorm": lambda: BatchNorm(rng.standard_normal(6) + 1.0, rng.standard_normal(6)),
        "dropout": lambda: Dropout(0.4, rng),
    }[kind]()


@pytest.mark.parametrize("kind", ["affine", "relu", "sigmoid", "tanh", "batchnorm", "dropout"])
def test_layer_gradients(kind):
    rng = np.random.default_rng(1)
    layer = make_layer(kind, rng)
    x = rng.standard_normal((9, 6))
    if kind == "relu":
        x[np.abs(x) < 0.05] = 0.5  # keep clear of the kink, where the derivative is undefined
    errors = check_layer(layer, x, rng)
    assert set(errors) == {"x"} | set(layer.params)
    assert_small(errors)

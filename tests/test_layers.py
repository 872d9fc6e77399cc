"""Layer behaviour beyond gradients: modes, masks, buffers."""

import numpy as np
import pytest

from nncore.layers import BatchNorm, Dropout, ReLU


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

"""nncore.losses: values by their definitions, gradients against central differences, dtypes."""


import numpy as np
import pytest

from nncore.gradcheck import check_loss
from nncore.losses import MeanSquaredError, SoftmaxCrossEntropy
from tests.nncore.conftest import TOL


@pytest.mark.parametrize("labels", ["int", "onehot"])
def test_softmax_cross_entropy_gradient(labels):
    rng = np.random.default_rng(3)
    y = rng.standard_normal((7, 5)) * 3
    t = rng.integers(0, 5, 7)
    if labels == "onehot":
        t = np.eye(5)[t]
    assert check_loss(SoftmaxCrossEntropy(), y, t) < TOL


def test_softmax_cross_entropy_is_stable_and_matches_definition():
    loss = SoftmaxCrossEntropy()
    y = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    t = np.array([0, 2])
    value = loss.forward(y, t)
    assert np.isfinite(value)
    assert value == pytest.approx((0.0 + np.log(3.0)) / 2)
    assert loss.forward(y, np.eye(3)[t]) == pytest.approx(value)


@pytest.mark.parametrize("labels", ["int", "onehot", "soft"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_is_minus_the_mean_log_probability(labels, dtype):
    """The definition, -mean_i sum_k t_ik log softmax(s_i)_k, with scipy's log_softmax as the reference
    (not the engine's shifted log-sum-exp), on scores up to +-300 that overflow a naive exp, and for
    integer labels, one-hot rows and soft rows (label smoothing) alike."""
    from scipy.special import log_softmax

    rng = np.random.default_rng(5)
    scores = (rng.standard_normal((32, 6)) * 100).astype(dtype)
    k = rng.integers(0, 6, 32)
    t = {"int": k, "onehot": np.eye(6)[k], "soft": 0.9 * np.eye(6)[k] + 0.1 / 6}[labels].astype(
        np.int64 if labels == "int" else dtype)
    probabilities = np.eye(6)[k] if labels == "int" else t.astype(np.float64)
    expected = -np.mean(np.sum(probabilities * log_softmax(scores.astype(np.float64), axis=1), axis=1))
    assert SoftmaxCrossEntropy().forward(scores, t) == pytest.approx(expected, rel=1e-12 if dtype == np.float64
                                                                      else 1e-5)


def test_mse_gradient_and_value():
    rng = np.random.default_rng(4)
    y, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    assert check_loss(MeanSquaredError(), y, t) < TOL
    assert MeanSquaredError().forward(y, t) == pytest.approx(0.5 * np.sum((y - t) ** 2) / 6)


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy, MeanSquaredError])
def test_losses_keep_float32(loss):
    rng = np.random.default_rng(0)
    y = rng.standard_normal((8, 4)).astype(np.float32)
    t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    layer = loss()
    layer.forward(y, t)
    assert layer.backward().dtype == np.float32

"""Every layer, loss and network against central differences: max relative error below 1e-6."""

import numpy as np
import pytest

import nncore
from nncore.gradcheck import check_layer, check_loss, check_network, network_gradients
from nncore.layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, Tanh
from nncore.losses import MeanSquaredError, SoftmaxCrossEntropy

TOL = 1e-6


def assert_small(errors):
    """Every error finite and below TOL: max() alone lets a NaN through (max([1e-9, nan]) is 1e-9)."""
    assert all(np.isfinite(e) and e < TOL for e in errors.values()), errors


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


def test_the_layer_is_checked_in_training_mode_from_its_first_pass():
    """In training mode dropout's frozen mask is the first draw from the rng (Dropout's rule: keep u >= ratio,
    scaled by 1/(1 - ratio)), and batch norm's first pass moves its running statistics."""
    rng = np.random.default_rng(0)
    dropout = Dropout(0.5, rng)
    check_layer(dropout, np.ones((4, 3)), rng)
    np.testing.assert_array_equal(dropout.mask, (np.random.default_rng(0).random((4, 3)) >= 0.5) / 0.5)
    batchnorm = BatchNorm(np.ones(3), np.zeros(3), momentum=0.0)  # momentum 0: the last training batch's mean
    x = np.arange(12.0).reshape(4, 3)
    check_layer(batchnorm, x, rng)
    np.testing.assert_allclose(batchnorm.running_mean, [4.5, 5.5, 6.5])


def test_gradient_check_catches_a_wrong_backward():
    rng = np.random.default_rng(2)

    class BrokenTanh(Tanh):
        def backward(self, dout, need_dx=True):
            return super().backward(dout) * 1.01

    assert check_layer(BrokenTanh(), rng.standard_normal((4, 3)), rng)["x"] > 1e-3


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


# ReLU nets get a small bias: a row whose hidden units are all dead otherwise puts the next
# pre-activation exactly at ReLU's kink (0), where no derivative exists to check.
NETWORKS = {
    "relu-he": dict(activation="relu", init="he", bias=0.1),
    "sigmoid-xavier": dict(activation="sigmoid", init="xavier"),
    "tanh-std": dict(activation="tanh", init=0.5),
    "batchnorm": dict(batchnorm=True),
    "dropout": dict(dropout=0.3, bias=0.1),
    "weight-decay": dict(weight_decay=0.1, bias=0.1),
    "everything": dict(batchnorm=True, dropout=0.2, weight_decay=0.05, activation="tanh"),
    "mse-sigmoid-out": dict(activation="sigmoid", loss="mse", output_activation="sigmoid",
                            init=("uniform", 1.0), bias=1.0),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_network_gradients(name):
    rng = np.random.default_rng(5)
    kwargs = NETWORKS[name]
    net = nncore.MLP([6, 7, 5, 4], rng, **kwargs)
    x = rng.standard_normal((10, 6))
    t = rng.integers(0, 4, 10)
    if kwargs.get("loss") == "mse":
        t = np.eye(4)[t]
    errors = check_network(net, x, t)
    assert set(errors) == set(net.params)
    assert_small(errors)


@pytest.mark.slow  # 9 s of central differences over 39,760 parameters
def test_book_two_layer_net_mean_abs_difference():
    """The book's ch. 5 check: 784-50-10 ReLU, std 0.01, 3 samples; differences ~1e-10 or below."""
    rng = np.random.default_rng(6)
    net = nncore.MLP([784, 50, 10], rng, init=0.01)
    x = rng.random((3, 784))
    t = rng.integers(0, 10, 3)
    pairs = network_gradients(net, x, t, h=1e-4)
    for name, (analytic, numerical) in pairs.items():
        assert np.mean(np.abs(analytic - numerical)) < 1e-7, name

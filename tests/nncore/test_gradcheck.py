"""nncore.gradcheck: central differences, the relative error, and the step asked for."""


import numpy as np
import pytest

import nncore
from nncore.gradcheck import (
    check_layer,
    numerical_gradient,
    relative_error,
)
from nncore.layers import Affine, BatchNorm, Dropout, Tanh


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


def test_check_layer_uses_the_step_for_parameters_too():
    """A parameter enters sum(forward * dout) linearly, so only roundoff tells the step: at h = 1e-13
    central differences lose about three digits more than at the default 1e-5."""
    rng = np.random.default_rng(0)
    layer = Affine(rng.standard_normal((5, 4)) * 10, rng.standard_normal(4))
    x = rng.standard_normal((3, 5)) * 100
    fine = check_layer(layer, x, np.random.default_rng(1))
    rough = check_layer(layer, x, np.random.default_rng(1), h=1e-13)
    assert fine["W"] < 1e-8 and rough["W"] > 1e-5


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

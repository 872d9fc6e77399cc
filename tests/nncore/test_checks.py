"""nncore.checks: every argument error names the argument and the rule."""

import re

import numpy as np
import pytest

import nncore
from nncore.checks import count, fraction, non_negative, positive
from nncore.layers import BatchNorm, Dropout
from nncore.optimizers import make_optimizer


@pytest.mark.parametrize("make, message", [
    (lambda: make_optimizer("sgd", lr=0), "lr must be > 0, got 0"),
    (lambda: make_optimizer("momentum", momentum=1.0), "momentum must be in [0, 1), got 1.0"),
    (lambda: make_optimizer("nesterov", momentum=-0.1), "momentum must be in [0, 1), got -0.1"),
    (lambda: make_optimizer("rmsprop", decay_rate=1), "decay_rate must be in [0, 1), got 1"),
    (lambda: make_optimizer("adam", beta1=1), "beta1 must be in [0, 1), got 1"),
    (lambda: make_optimizer("adam", beta2=1.5), "beta2 must be in [0, 1), got 1.5"),
    (lambda: make_optimizer("lion"), "unknown optimizer 'lion': choose from sgd, momentum, nesterov, adagrad, "
                                     "rmsprop, adam"),
    (lambda: BatchNorm(np.ones(2), np.zeros(2), momentum=1.5), "momentum must be in [0, 1], got 1.5"),
    (lambda: BatchNorm(np.ones(2), np.zeros(2), eps=0), "eps must be > 0, got 0"),
    (lambda: Dropout(1.0, None), "dropout ratio must be in [0, 1), got 1.0"),
    (lambda: nncore.MLP([5], None), "an MLP needs at least input and output sizes"),
    (lambda: nncore.MLP([5, 0], None), "sizes[1] (layer size) must be a whole number >= 1, got 0"),
    (lambda: nncore.MLP([5, 2], None, dropout=1), "dropout must be in [0, 1), got 1"),
    (lambda: nncore.MLP([5, 2], None, weight_decay=-1), "weight_decay must be >= 0, got -1"),
    (lambda: nncore.MLP([5, 2], None, init=-0.1), "init (a weight std) must be > 0, got -0.1"),
    (lambda: nncore.MLP([5, 2], None, dtype=np.float16), "dtype must be float64 or float32, got float16"),
    (lambda: nncore.MLP([5, 2], None, activation="elu"), "unknown activation 'elu': choose from relu, sigmoid, tanh"),
    (lambda: nncore.MLP([5, 2], None, loss="hinge"), "unknown loss 'hinge': choose from softmax_ce, mse"),
    (lambda: nncore.MLP([5, 2], np.random.default_rng(0)).accuracy(np.ones((1, 5)), np.zeros(1, int), 0),
     "batch_size must be a whole number >= 1, got 0"),
    (lambda: nncore.MLP([5, 2], np.random.default_rng(0)).set_params({"W9": 0}),
     "unknown parameter 'W9': the network has W1, b1"),
])
def test_argument_errors_name_the_argument_and_the_rule(make, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        make()


@pytest.mark.parametrize("check, value", [
    (positive, 0), (positive, -1e-300), (positive, float("nan")), (positive, float("inf")), (positive, True),
    (positive, "0.1"), (positive, None), (non_negative, -1e-300), (non_negative, float("nan")),
    (fraction, 1), (fraction, -1e-9), (fraction, float("nan")), (count, 0), (count, True), (count, 2.5),
    (count, "3"), (count, np.float64(2.0)),
])
def test_checks_refuse(check, value):
    with pytest.raises(ValueError, match=f"^x must be .*, got {re.escape(repr(value))}$"):
        check("x", value)


def test_checks_accept():
    assert positive("x", 1e-300) == 1e-300 and non_negative("x", 0) == 0
    assert fraction("x", 0) == 0 and fraction("x", 0.999) == 0.999
    assert fraction("x", 1, closed=True) == 1 and fraction("x", 1.0, closed=True) == 1.0
    with pytest.raises(ValueError, match=re.escape("x must be in [0, 1], got 1.5")):
        fraction("x", 1.5, closed=True)
    assert count("x", np.int64(3)) == 3 and type(count("x", np.int64(3))) is int
    assert count("x", 0, low=0) == 0

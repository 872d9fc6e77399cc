"""nncore.init: weights and biases of the stated scale and dtype."""


import numpy as np
import pytest

import nncore
from nncore.init import init_bias, init_weights


def test_inits_have_the_stated_scale():
    rng = np.random.default_rng(0)
    assert init_weights("he", 400, 300, rng).std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert init_weights("xavier", 400, 300, rng).std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)
    assert init_weights(0.01, 400, 300, rng).std() == pytest.approx(0.01, rel=0.02)
    assert init_weights("normal", 400, 300, rng).std() == pytest.approx(1.0, rel=0.02)
    u = init_weights(("uniform", 0.5), 400, 300, rng)
    assert u.min() >= -0.5 and u.max() <= 0.5 and u.std() == pytest.approx(0.5 / np.sqrt(3), rel=0.02)
    with pytest.raises(ValueError, match="unknown init"):
        init_weights("lecun", 3, 3, rng)


def test_bias_options():
    net = nncore.MLP([2, 3, 1], np.random.default_rng(0), bias=1.0, activation="sigmoid")
    assert np.all(net.params["b1"] == 1.0)
    net = nncore.MLP([2, 300, 1], np.random.default_rng(0), bias="normal")
    assert net.params["b1"].std() == pytest.approx(1.0, rel=0.2)


@pytest.mark.parametrize("kind", [("uniform", 0.5), "he", 0.1])
def test_weights_and_biases_have_the_asked_dtype(kind):
    rng = np.random.default_rng(0)
    assert init_weights(kind, 4, 3, rng, np.float32).dtype == np.float32
    assert init_bias("normal", 3, rng, np.float32).dtype == np.float32
    assert init_bias(0.5, 3, rng, np.float32).dtype == np.float32

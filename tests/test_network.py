import numpy as np
import pytest

import nncore
from nncore.init import init_weights


def test_builder_layout_and_names():
    net = nncore.MLP([784, 100, 50, 10], np.random.default_rng(0), batchnorm=True, dropout=0.5)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Affine", "BatchNorm", "ReLU", "Dropout"] * 2 + ["Affine"]
    assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert net.params["W1"].shape == (784, 100) and net.n_params == 784 * 100 + 100 * 50 + 50 * 10 + 160 + 300


def test_same_generator_seed_same_network_and_steps():
    def run(seed):
        rng = np.random.default_rng(seed)
        net = nncore.MLP([5, 8, 3], rng, dropout=0.3)
        x, t = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
        opt = nncore.Momentum()
        losses = []
        for _ in range(5):
            loss, grads = net.gradient(x, t)
            opt.update(net.params, grads)
            losses.append(loss)
        return losses

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_gradient_loss_equals_training_loss():
    rng = np.random.default_rng(0)
    net = nncore.MLP([5, 8, 3], rng, weight_decay=0.2)
    x, t = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    loss, _ = net.gradient(x, t)
    assert loss == pytest.approx(net.loss(x, t, train=True))
    decay = 0.5 * 0.2 * sum(np.sum(net.params[k] ** 2) for k in ("W1", "W2"))
    net.weight_decay = 0.0
    assert loss - decay == pytest.approx(net.loss(x, t, train=True))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_float32_end_to_end(batchnorm):
    rng = np.random.default_rng(0)
    net = nncore.MLP([6, 10, 3], rng, dtype=np.float32, batchnorm=batchnorm)
    x, t = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    _, grads = net.gradient(x, t)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert net.predict(x).dtype == np.float32


def test_predict_returns_a_fresh_array_and_accuracy_chunks():
    rng = np.random.default_rng(0)
    net = nncore.MLP([4, 6, 3], rng)
    x = rng.standard_normal((10, 4))
    a = net.predict(x)
    net.predict(x * 2)
    np.testing.assert_array_equal(a, net.predict(x))
    t = a.argmax(axis=1)
    assert net.accuracy(x, t, batch_size=3) == 1.0
    assert net.accuracy(x, np.eye(3)[t]) == 1.0


def test_accuracy_evaluates_in_chunks_of_2000_rows_by_default():
    """The documented default chunk, as forward sees it (a chunk's size sets its outputs' last bits)."""
    net = nncore.MLP([2, 3, 2], np.random.default_rng(0))
    sizes, forward = [], net.forward
    net.forward = lambda x, train=False: sizes.append(len(x)) or forward(x, train)
    net.accuracy(np.zeros((4001, 2)), np.zeros(4001, dtype=int))
    assert sizes == [2000, 2000, 1]


def test_set_params_checks_names_and_shapes():
    net = nncore.MLP([4, 6, 3], np.random.default_rng(0))
    net.set_params({"W1": np.ones((4, 6), np.float32)})
    assert np.all(net.params["W1"] == 1)
    with pytest.raises(ValueError, match="unknown parameter 'W9'"):
        net.set_params({"W9": np.ones(1)})
    with pytest.raises(ValueError, match="shape"):
        net.set_params({"W1": np.ones((6, 4))})


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


def test_bad_builder_arguments():
    with pytest.raises(ValueError, match="unknown activation"):
        nncore.MLP([2, 2], np.random.default_rng(0), activation="gelu")
    with pytest.raises(ValueError, match="unknown loss"):
        nncore.MLP([2, 2], np.random.default_rng(0), loss="hinge")

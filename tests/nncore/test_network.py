"""nncore.network: the MLP's layout, training steps, evaluation, memory, pickling and gradients."""

import pickle
import tracemalloc

import numpy as np
import pytest
from scipy.special import log_softmax

import nncore
from nncore.gradcheck import (
    check_network,
    network_gradients,
)
from nncore.layers import Affine
from nncore.losses import SoftmaxCrossEntropy
from nncore.optimizers import OPTIMIZERS, make_optimizer
from tests.nncore.conftest import assert_small


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


def test_bad_builder_arguments():
    with pytest.raises(ValueError, match="unknown activation"):
        nncore.MLP([2, 2], np.random.default_rng(0), activation="gelu")
    with pytest.raises(ValueError, match="unknown loss"):
        nncore.MLP([2, 2], np.random.default_rng(0), loss="hinge")


# 128 x 256 activations: 32,768 elements, four times the 8,192-element buffer NumPy's ufunc machinery
# allocates for a broadcast operation, so a temporary the size of one activation stands out.
BATCH, WIDTH = 128, 256


def peak_bytes(fn):
    """The most memory fn held at once beyond what was allocated before it (numpy reports its arrays)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


NETS = {  # between them: every layer, both losses and weight decay
    "relu-bn-dropout-decay": dict(activation="relu", batchnorm=True, dropout=0.3, weight_decay=0.01),
    "sigmoid": dict(activation="sigmoid"),
    "tanh-mse": dict(activation="tanh", loss="mse"),
}


CASES = ([("adam", kind, dtype) for kind in NETS for dtype in (np.float64, np.float32)]
         + [(name, "relu-bn-dropout-decay", np.float32) for name in OPTIMIZERS if name != "adam"])


@pytest.mark.parametrize("optimizer, net_kind, dtype", CASES)
def test_a_warm_training_step_allocates_no_activation_sized_array(optimizer, net_kind, dtype):
    """Layers, losses and optimizers write into buffers they own (nncore.layers), so once warm a step
    holds less than one activation's worth of new memory at any moment; a dropped `out=`, a copy of
    the input or an update that falls back to `y += a * x` would each take a whole one. (Every
    optimizer runs in float32, where a state array made in float64 would force that fallback.)"""
    rng = np.random.default_rng(0)
    net = nncore.MLP([WIDTH] * 3, rng, dtype=dtype, **NETS[net_kind])
    opt = make_optimizer(optimizer)
    x = rng.standard_normal((BATCH, WIDTH)).astype(dtype)
    t = rng.integers(0, WIDTH, BATCH)
    if NETS[net_kind].get("loss") == "mse":
        t = np.eye(WIDTH, dtype=dtype)[t]

    def step():
        _, grads = net.gradient(x, t)
        opt.update(net.params, grads)

    step(), step()
    activation = BATCH * WIDTH * np.dtype(dtype).itemsize
    assert peak_bytes(step) < 0.75 * activation
    net.forward(x)
    assert peak_bytes(lambda: net.forward(x)) < 0.75 * activation


def test_a_float32_net_rounds_float64_input_to_float32_first():
    """The input is converted to the net's dtype before the first product, so the outputs are exactly
    those of the same input given in float32."""
    rng = np.random.default_rng(1)
    net = nncore.MLP([20, 30, 5], rng, dtype=np.float32)
    x = rng.standard_normal((16, 20))
    np.testing.assert_array_equal(net.predict(x), net.predict(x.astype(np.float32)))


def test_builder_defaults():
    net = nncore.MLP([4, 5, 3], np.random.default_rng(0))
    assert net.sizes == [4, 5, 3] and net.dtype == np.float64
    assert [type(layer).__name__ for layer in net.layers] == ["Affine", "ReLU", "Affine"]
    assert all(np.all(net.params[b] == 0) for b in ("b1", "b2"))  # biases start at zero, as in the book
    assert type(net.loss_layer) is SoftmaxCrossEntropy


def test_gradient_skips_only_the_input_gradient_of_the_first_layer():
    """dL/dx of the first layer is the gradient with respect to the data: no parameter needs it."""
    net = nncore.MLP([4, 5, 5, 3], np.random.default_rng(0), batchnorm=True)
    asked = {}
    for i, layer in enumerate(net.layers):
        def spy(dout, need_dx=True, i=i, backward=layer.backward):
            asked[i] = need_dx
            return backward(dout, need_dx)
        layer.backward = spy
    net.gradient(np.ones((2, 4)), np.zeros(2, int))
    assert asked == {i: i > 0 for i in range(len(net.layers))}
    layer = Affine(np.ones((2, 3)), np.zeros(3))
    layer.forward(np.ones((4, 2)))
    assert layer.backward(np.ones((4, 3))).shape == (4, 2)  # dx unless told otherwise


def test_a_pickled_network_keeps_its_parameters_and_statistics_not_its_scratch():
    """A saved model (mnist_sgd's artifact) holds what defines the network (and the last gradients); the
    buffers of the last batch, here a dozen times the parameters' size, are left out and made anew."""
    rng = np.random.default_rng(0)
    net = nncore.MLP([20, 30, 30, 5], rng, batchnorm=True, dropout=0.2, loss="mse")
    x, t = rng.standard_normal((256, 20)), np.eye(5)[rng.integers(0, 5, 256)]
    opt = make_optimizer("adam")
    for _ in range(3):
        opt.update(net.params, net.gradient(x, t)[1])
    blob = pickle.dumps(net)
    defining = sum(p.nbytes for p in net.params.values()) + 4 * 30 * 8  # and two layers' running statistics
    assert len(blob) < 2.5 * defining  # parameters and gradients
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.predict(x), net.predict(x))
    np.testing.assert_array_equal(restored.layers[1].running_var, net.layers[1].running_var)
    assert restored.loss(x, t) == net.loss(x, t)
    restored.gradient(x, t)  # and it trains: its buffers are made again on first use


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

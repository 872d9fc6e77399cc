"""What the engine promises besides its math: a warm step allocates no array, a float32 net stays in
float32, every argument error names its argument, and each default is the documented one."""

import gzip
import os
import pickle
import re
import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest

import nncore
from nncore.atomic import atomic_path
from nncore.checks import count, fraction, non_negative, positive
from nncore.datasets import DatasetError, read_idx, write_idx
from nncore.gradcheck import check_layer
from nncore.init import init_bias, init_weights
from nncore.layers import Affine, BatchNorm, Dropout
from nncore.losses import MeanSquaredError, SoftmaxCrossEntropy
from nncore.optimizers import OPTIMIZERS, axpy, make_optimizer
from nncore.weights import load_weights
from tests.helpers import RunsCode

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


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy, MeanSquaredError])
def test_losses_keep_float32(loss):
    rng = np.random.default_rng(0)
    y = rng.standard_normal((8, 4)).astype(np.float32)
    t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    layer = loss()
    layer.forward(y, t)
    assert layer.backward().dtype == np.float32


def test_a_float32_net_rounds_float64_input_to_float32_first():
    """The input is converted to the net's dtype before the first product, so the outputs are exactly
    those of the same input given in float32."""
    rng = np.random.default_rng(1)
    net = nncore.MLP([20, 30, 5], rng, dtype=np.float32)
    x = rng.standard_normal((16, 20))
    np.testing.assert_array_equal(net.predict(x), net.predict(x.astype(np.float32)))


@pytest.mark.parametrize("kind", [("uniform", 0.5), "he", 0.1])
def test_weights_and_biases_have_the_asked_dtype(kind):
    rng = np.random.default_rng(0)
    assert init_weights(kind, 4, 3, rng, np.float32).dtype == np.float32
    assert init_bias("normal", 3, rng, np.float32).dtype == np.float32
    assert init_bias(0.5, 3, rng, np.float32).dtype == np.float32


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


def test_axpy_with_one_side_non_contiguous():
    """BLAS works on flat contiguous memory: with either side strided, the update must still land in y."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 60)), rng.standard_normal((40, 60))  # halves above BLAS_MIN_SIZE
    for xs, ys in ((x[:, :30].copy(), y[:, ::2]), (x[:, ::2], y[:, :30].copy()), (x.T.copy(), y.T)):
        want = ys + 0.5 * xs
        axpy(0.5, xs, ys)
        np.testing.assert_allclose(ys, want, rtol=1e-15)


def test_check_layer_uses_the_step_for_parameters_too():
    """A parameter enters sum(forward * dout) linearly, so only roundoff tells the step: at h = 1e-13
    central differences lose about three digits more than at the default 1e-5."""
    rng = np.random.default_rng(0)
    layer = Affine(rng.standard_normal((5, 4)) * 10, rng.standard_normal(4))
    x = rng.standard_normal((3, 5)) * 100
    fine = check_layer(layer, x, np.random.default_rng(1))
    rough = check_layer(layer, x, np.random.default_rng(1), h=1e-13)
    assert fine["W"] < 1e-8 and rough["W"] > 1e-5


def test_write_idx_compresses_by_name_or_when_asked(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for name, compress, gz in (("a.gz", None, True), ("a", None, False), ("b", True, True), ("b.gz", False, False)):
        write_idx(tmp_path / name, array, compress=compress)
        raw = (tmp_path / name).read_bytes()
        assert (raw[:2] == b"\x1f\x8b") == gz
        assert np.array_equal(read_idx(tmp_path / name), array)
        if gz:
            assert gzip.decompress(raw)[:4] == bytes([0, 0, 8, 2])


def test_idx_errors_say_how_to_recover(tmp_path):
    path = tmp_path / "empty.idx"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"bad magic number empty\); delete it and fetch it again$"):
        read_idx(path)


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


def test_weights_files_hold_arrays_and_run_no_code(tmp_path):
    weights = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.zeros(3, np.float32)}
    (tmp_path / "w.pkl").write_bytes(pickle.dumps(weights))
    (tmp_path / "o.pkl").write_bytes(pickle.dumps(OrderedDict(weights)))
    np.savez(tmp_path / "w.npz", **weights)
    for name in ("w.pkl", "o.pkl", "w.npz"):
        got = load_weights(tmp_path / name)
        assert list(got) == ["W1", "b1"] and all(np.array_equal(got[k], weights[k]) for k in weights)
        assert got["b1"].dtype == np.float32
    bad = {"code.pkl": pickle.dumps({"W1": RunsCode(tmp_path / "ran")}),
           "list.pkl": pickle.dumps({"W1": [1, 2]}), "array.pkl": pickle.dumps(np.zeros(3)),
           "garbage.pkl": b"not a pickle", "empty.pkl": b"", "objects.npz": None, "none.npz": None}
    np.savez(tmp_path / "objects.npz", W1=np.array([None], dtype=object))
    for name, payload in bad.items():
        if payload is not None:
            (tmp_path / name).write_bytes(payload)
        with pytest.raises(ValueError, match=f"^cannot read weights file {re.escape(str(tmp_path / name))}: ") as e:
            load_weights(tmp_path / name)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"it refers to posix\.system, which a file of arrays never needs$"):
        load_weights(tmp_path / "code.pkl")
    assert not (tmp_path / "ran").exists()
    with pytest.raises(ValueError, match=r": it holds no dict of arrays$"):
        load_weights(tmp_path / "list.pkl")


@pytest.mark.parametrize("durable, fsyncs", [(True, 1), (False, 0)])
def test_atomic_files_are_fsynced_unless_their_reader_verifies_them(tmp_path, monkeypatch, durable, fsyncs):
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    with atomic_path(tmp_path / "f", durable=durable) as tmp:
        tmp.write_text("x")
    assert len(calls) == fsyncs and (tmp_path / "f").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_atomic_files_get_the_permissions_open_would_give(tmp_path):
    """mkstemp makes files private to their owner; results and caches are meant to be readable like any other."""
    with atomic_path(tmp_path / "f") as tmp:
        tmp.write_text("x")
    (tmp_path / "g").write_text("x")
    assert (tmp_path / "f").stat().st_mode & 0o777 == (tmp_path / "g").stat().st_mode & 0o777


def test_a_layer_without_its_own_passes_says_so():
    from nncore.layers import Layer

    with pytest.raises(NotImplementedError):
        Layer().forward(np.ones((1, 2)))
    with pytest.raises(NotImplementedError):
        Layer().backward(np.ones((1, 2)))

"""nncore.datasets.toy: scikit-learn's sets and the XOR points, generated once per setting."""

import re

import numpy as np
import pytest

from nncore.datasets import load, mnist


def test_toy_generators_give_integer_labels():
    """Labels are int64 from the generator on (float labels index nothing and one_hot would refuse them)."""
    from nncore.datasets import toy

    for generator in (toy.digits, toy.moons, toy.xor):
        x, t, xt, tt = generator()
        assert x.dtype == xt.dtype == np.float64 and t.dtype == tt.dtype == np.int64, generator.__name__


def test_toy_sets():
    moons = load("moons", n=100, noise=0.1, seed=3)
    assert moons.x_train.shape == (100, 2) and moons.x_test.shape == (100, 2) and moons.n_classes == 2
    assert not np.array_equal(moons.x_train, moons.x_test)
    digits = load("digits")
    assert digits.x_train.shape == (1497, 64) and digits.x_test.shape == (300, 64) and digits.x_train.max() == 1
    xor = load("xor")
    assert xor.t_train.tolist() == [0, 1, 1, 0]


def test_generated_sets_are_cached_per_setting_and_rebuilt_when_damaged(monkeypatch):
    from nncore.datasets import toy

    first = load("moons", n=50, noise=0.1, seed=4)
    (path,) = (mnist.cache_dir("moons") / "generated").iterdir()
    assert re.fullmatch(r"[0-9a-f]{24}\.npz", path.name)  # the documented name: caches of earlier runs are found
    load("digits")
    (digits,) = (mnist.cache_dir("digits") / "generated").iterdir()  # each set in its own folder, same naming
    assert re.fullmatch(r"[0-9a-f]{24}\.npz", digits.name) and digits.name != path.name
    monkeypatch.setattr(toy, "moons", lambda **kw: pytest.fail("generated again"))
    again = load("moons", n=50, noise=0.1, seed=4)  # from the cache: scikit-learn not called
    assert np.array_equal(again.x_train, first.x_train) and np.array_equal(again.t_test, first.t_test)
    monkeypatch.undo()
    assert load("moons", n=50, noise=0.2, seed=4).x_train.tolist() != first.x_train.tolist()  # another key
    path.write_bytes(b"not an npz")
    assert np.array_equal(load("moons", n=50, noise=0.1, seed=4).x_train, first.x_train)


def test_toy_sets_are_scikit_learns_and_the_four_xor_points(monkeypatch):
    from sklearn.datasets import load_digits, make_moons

    from nncore.datasets import toy

    d = load("moons")
    x, t = make_moons(200, noise=0.2, random_state=0)
    xt, tt = make_moons(200, noise=0.2, random_state=1)
    np.testing.assert_array_equal(d.x_train, x)
    np.testing.assert_array_equal(d.t_train, t)
    np.testing.assert_array_equal(d.x_test, xt)
    np.testing.assert_array_equal(d.t_test, tt)
    d = load("moons", n=30, noise=0.3, seed=4, n_test=10)  # the first ten of a test set as large as the training set
    np.testing.assert_array_equal(d.x_test, make_moons(30, noise=0.3, random_state=5)[0][:10])
    assert d.t_train.dtype == np.int64 and d.x_train.shape == (30, 2)
    digits = load("digits", n_test=100, dtype=np.float32)
    images = load_digits().images
    assert digits.x_test.shape == (100, 64) and digits.x_train.shape == (1497, 64)
    assert digits.x_train.dtype == np.float32
    labels = load_digits().target
    np.testing.assert_array_equal(load("digits").t_train, labels[300:])
    np.testing.assert_array_equal(load("digits").t_test, labels[:300])
    np.testing.assert_array_equal(digits.x_test, (images[:100] / 16).reshape(100, 64).astype(np.float32))
    assert load("digits", normalize=False).x_train.max() == 16
    with pytest.raises(TypeError):
        load("digits", noise=0.1)  # digits has no settings of its own
    x, t, x_test, t_test = toy.xor()
    assert x.dtype == np.float64 and x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] == x_test.tolist()
    assert t.tolist() == [0, 1, 1, 0] == t_test.tolist()


def test_generated_sets_are_cached_whatever_the_order_of_their_settings(monkeypatch):
    from nncore.datasets import toy

    first = load("moons", n=40, noise=0.1, seed=2)
    second = load("moons", n=41, noise=0.1, seed=2)  # a second file beside the first
    monkeypatch.setattr(toy, "moons", lambda **kw: pytest.fail("generated again"))
    assert np.array_equal(load("moons", seed=2, noise=0.1, n=40).x_train, first.x_train)
    assert np.array_equal(load("moons", n=41, noise=0.1, seed=2).x_train, second.x_train)

"""nncore.datasets.load: its options, class counts, fingerprints and one-hot labels."""

from dataclasses import replace

import numpy as np
import pytest

import nncore
from nncore.datasets import DatasetError, load, mnist, prepared
from tests.conftest import stand_in_for


def test_mnist_from_explicit_folder_with_options(tiny_mnist):
    d = load("mnist", data_dir=tiny_mnist)
    assert d.x_train.shape == (60, 784) and d.x_test.shape == (20, 784)
    assert d.x_train.dtype == np.float64 and 0 <= d.x_train.min() and d.x_train.max() == 1.0
    raw = load("mnist", data_dir=tiny_mnist, normalize=False, flatten=False, dtype=np.float32)
    assert raw.x_train.shape == (60, 1, 28, 28) and raw.x_train.max() == 255 and raw.x_train.dtype == np.float32
    sub = load("mnist", data_dir=tiny_mnist, n_train=40, validation=0.25, one_hot_labels=True)
    assert sub.x_train.shape == (30, 784) and sub.x_val.shape == (10, 784)
    assert sub.t_train.shape == (30, 10) and np.all(sub.t_val.sum(axis=1) == 1)
    # The validation rows are the first 40 training rows, shuffled by the seed: nothing lost.
    rows = np.concatenate([sub.x_train, sub.x_val])
    assert sorted(map(bytes, rows)) == sorted(map(bytes, d.x_train[:40]))
    again = load("mnist", data_dir=tiny_mnist, n_train=40, validation=0.25)
    assert np.array_equal(again.x_val, sub.x_val)


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'.*mnist, fashion_mnist"):
        load("cifar")


def test_the_class_count_is_that_of_the_labels_kept():
    """n_train / n_test keep the first samples; the classes are those their labels name (largest + 1)."""
    first = load("xor", n_train=1, n_test=1, one_hot_labels=True)  # labels [0] and [0]
    assert first.n_classes == 1 and first.t_train.shape == (1, 1)
    assert load("xor", n_train=2, n_test=1).n_classes == 2


def test_fingerprint_names_the_content(tmp_path):
    from nncore.datasets import fingerprint, outside

    assert fingerprint("mnist")["sha256"]["t10k-labels-idx1-ubyte"] == mnist.MNIST.contents[3]
    np.savez(tmp_path / "d.npz", x_train=np.eye(4), t_train=[0, 1, 0, 1], x_test=np.eye(4), t_test=[1, 0, 1, 0])
    name = f"npz:{tmp_path / 'd.npz'}"
    assert fingerprint(name) == {"sha256": outside.digest(name)} and len(outside.digest(name)) == 64
    assert fingerprint("moons")["source"].startswith("scikit-learn ")


def test_one_hot_and_fingerprints():
    from nncore.datasets import fingerprint, one_hot

    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 2, np.float32).dtype == np.float32 and one_hot(np.array([1]), 2).dtype == np.float64
    assert fingerprint("xor") == {"source": "the four XOR points"}
    from importlib.metadata import version

    assert fingerprint("digits") == {"source": f"scikit-learn {version('scikit-learn')}"}


def test_load_options_on_an_outside_set(tmp_path):
    """normalize scales uint8 pixels only; dtype, flatten, one-hot, n_test and the set's own validation split
    apply to every part; the classes are counted over all of them."""
    rng = np.random.default_rng(0)
    pixels = {"x_train": rng.integers(0, 256, (8, 2, 2), dtype=np.uint8), "t_train": np.array([0, 1] * 4),
              "x_test": rng.integers(0, 256, (4, 2, 2), dtype=np.uint8), "t_test": np.array([0, 1, 2, 0]),
              "x_val": rng.integers(0, 256, (3, 2, 2), dtype=np.uint8), "t_val": np.array([0, 3, 1])}
    np.savez(tmp_path / "pixels.npz", **pixels)
    d = load(f"npz:{tmp_path / 'pixels.npz'}", dtype=np.float32, one_hot_labels=True, n_test=3)
    assert d.name == f"npz:{tmp_path / 'pixels.npz'}" and d.n_classes == 4
    assert d.x_train.shape == (8, 4) and d.x_val.shape == (3, 4) and d.x_test.shape == (3, 4)
    assert {a.dtype for a in (d.x_train, d.x_val, d.x_test, d.t_train, d.t_val, d.t_test)} == {np.dtype(np.float32)}
    for part in ("x_train", "x_val"):  # every part scaled alike
        np.testing.assert_array_equal(getattr(d, part), (pixels[part] / np.float32(255)).reshape(-1, 4))
    np.testing.assert_array_equal(d.t_val, np.eye(4, dtype=np.float32)[[0, 3, 1]])
    np.testing.assert_array_equal(d.t_test, np.eye(4, dtype=np.float32)[[0, 1, 2]])
    raw = load(f"npz:{tmp_path / 'pixels.npz'}", normalize=False, flatten=False)
    assert raw.x_train.shape == (8, 2, 2) and raw.x_val.shape == (3, 2, 2) and raw.x_val.max() > 1
    np.testing.assert_array_equal(raw.x_val, pixels["x_val"])
    floats = {**pixels, "x_train": pixels["x_train"] * 2.0}
    floats.pop("x_val"), floats.pop("t_val")
    np.savez(tmp_path / "floats.npz", **floats)
    d = load(f"npz:{tmp_path / 'floats.npz'}", validation=2)
    np.testing.assert_array_equal(np.sort(np.concatenate([d.x_train, d.x_val]), axis=0),
                                  np.sort(floats["x_train"].reshape(8, 4), axis=0))  # float data: never scaled
    assert d.n_classes == 3 and len(d.x_val) == 2
    floats["t_train"] = np.array([0, 1, 2, 3] * 2)  # now the training set holds the largest class
    np.savez(tmp_path / "floats.npz", **floats)
    assert load(f"npz:{tmp_path / 'floats.npz'}").n_classes == 4


def test_validation_is_a_fraction_below_one_and_a_count_from_one(tiny_mnist):
    assert len(load("mnist", data_dir=tiny_mnist, validation=0.5).x_val) == 30
    assert len(load("mnist", data_dir=tiny_mnist, validation=1).x_val) == 1
    assert len(load("mnist", data_dir=tiny_mnist, validation=7).x_val) == 7
    shuffled = load("mnist", data_dir=tiny_mnist, validation=5, split_seed=1).x_val
    assert not np.array_equal(shuffled, load("mnist", data_dir=tiny_mnist, validation=5).x_val)
    one = load("mnist", data_dir=tiny_mnist, n_train=1, n_test=4)
    assert one.x_train.shape == (1, 784) and one.x_test.shape == (4, 784) and one.name == "mnist"


def test_image_sets_follow_allow_download_and_verify(tiny_mnist, monkeypatch):
    monkeypatch.setitem(nncore.datasets.IMAGE_SPECS, "mnist", replace(mnist.MNIST, mirrors=("http://127.0.0.1:9/",)))
    with pytest.raises(DatasetError, match=r"^mnist not found \(download failed: "):
        load("mnist")
    with pytest.raises(DatasetError, match=r"^mnist not found: place "):
        load("mnist", allow_download=False)
    seen = []
    monkeypatch.setattr(prepared, "_intact", lambda *args: seen.append(args) or True)
    stand_in_for(monkeypatch, "mnist", tiny_mnist)
    load("mnist", data_dir=tiny_mnist)
    load("mnist", data_dir=tiny_mnist)
    assert seen == []
    load("mnist", data_dir=tiny_mnist, verify=True)
    assert len(seen) == 1

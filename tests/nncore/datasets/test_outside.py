"""nncore.datasets.outside: npz:PATH, idx:DIR and plugins' data sets, their checks and digests."""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from nncore.datasets import DatasetError, outside, read_idx, write_idx
from tests.conftest import tiny_idx_files
from tests.helpers import fake_distribution


def arrays(n_train=12, n_test=6, features=2, seed=0, **overrides):
    rng = np.random.default_rng(seed)
    data = {"x_train": rng.standard_normal((n_train, features)), "t_train": np.arange(n_train) % 3,
            "x_test": rng.standard_normal((n_test, features)), "t_test": np.arange(n_test) % 3}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def refused(message):
    return pytest.raises(DatasetError, match="^" + re.escape(message) + "$")


@pytest.mark.parametrize("overrides, message", [
    ({"t_train": None, "x_test": None}, "d: no t_train, x_test; a data set needs x_train, t_train, x_test, t_test"),
    ({"x_train": np.zeros(12)}, "d: x_train has shape (12,); it needs one row per sample (N, features...)"),
    ({"x_train": np.zeros((0, 2)), "t_train": np.zeros(0, int)},
     "d: x_train has shape (0, 2); it needs one row per sample (N, features...)"),
    ({"x_test": np.array([["a", "b"]] * 6)}, "d: x_test holds <U1; it needs numbers"),
    ({"x_test": np.ones((6, 2), bool)}, "d: x_test holds bool; it needs numbers"),
    ({"t_train": np.zeros((12, 1), int)},
     "d: t_train has shape (12, 1) and type int64; it needs one integer class label per sample"),
    ({"t_test": np.zeros(6)}, "d: t_test has shape (6,) and type float64; it needs one integer class label per sample"),
    ({"t_test": np.arange(5)}, "d: x_test has 6 samples but t_test 5 labels"),
    ({"t_train": np.arange(12) - 1}, "d: t_train runs from -1 to 10; labels are classes 0..K-1"),
    ({"t_test": np.array([0, 1, 2, 3, 4, 10_000])}, "d: t_test runs from 0 to 10000; labels are classes 0..K-1"),
    ({"x_test": np.full((6, 2), np.inf)}, "d: x_test holds NaN or infinite values"),
    ({"x_train": np.full((12, 2), np.nan)}, "d: x_train holds NaN or infinite values"),
    ({"x_test": np.zeros((6, 3))}, "d: x_test has 3 features per sample, the training set 2"),
    ({"x_train": np.full((12, 2), 0.5)}, "d: every value of x_train is 0.5: nothing to learn from"),
    ({"t_train": np.zeros(12, int)}, "d: t_train has one class only"),
    ({"x_val": np.zeros((3, 2)), "t_val": np.zeros(2, int)}, "d: x_val has 3 samples but t_val 2 labels"),
    ({"t_val": np.zeros(2, int)}, "d: x_val has shape (); it needs one row per sample (N, features...)"),
    ({"x_val": np.zeros((2, 2))}, "d: t_val has shape () and type object; it needs one integer class label per "
                                   "sample"),
    ({"x_val": np.zeros((3, 5)), "t_val": np.zeros(3, int)}, "d: x_val has 5 features per sample, the training set 2"),
])
def test_check_names_what_is_wrong(overrides, message):
    with refused(message):
        outside.check("d", arrays(**overrides))


def test_check_accepts_the_edges():
    outside.check("d", arrays(t_test=np.zeros(6, int), x_test=np.zeros((6, 2))))  # a constant test set is fine
    outside.check("d", arrays(t_train=np.array([0] * 11 + [9_999]),
                              x_train=np.arange(24, dtype=np.uint8).reshape(12, 2)))
    outside.check("d", arrays(x_train=np.arange(24.0).reshape(12, 1, 2), x_test=np.zeros((6, 2, 1))))  # 2 features each
    outside.check("d", arrays(x_val=np.zeros((3, 2)), t_val=np.zeros(3, int)))


def test_kind_by_features():
    assert outside.kind(arrays(features=2)) == "points"
    assert outside.kind(arrays(features=784)) == "images"
    assert outside.kind({"x_train": np.zeros((3, 1, 28, 28))}) == "images"
    assert outside.kind(arrays(features=3)) == outside.kind(arrays(features=785)) == "vectors"


def test_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert outside.is_outside("npz:a.npz") and outside.is_outside("idx:d") and not outside.is_outside("moons")
    assert not outside.is_outside(None) and not outside.is_outside("npz") and not outside.is_outside("xnpz:a")
    assert outside.normalized("npz:a.npz") == f"npz:{tmp_path / 'a.npz'}"
    assert outside.normalized("idx:~/d") == f"idx:{Path('~/d').expanduser()}"
    assert outside.normalized("spirals") == "spirals"


def test_npz_loads_checked(tmp_path):
    np.savez(tmp_path / "d.npz", **arrays(x_val=np.ones((2, 2)), t_val=np.array([0, 1])))
    got = outside.load_arrays(f"npz:{tmp_path / 'd.npz'}")
    assert sorted(got) == ["t_test", "t_train", "t_val", "x_test", "x_train", "x_val"]
    np.testing.assert_array_equal(got["x_val"], np.ones((2, 2)))
    np.savez(tmp_path / "bad.npz", **arrays(t_train=np.zeros(12, int)))
    with refused(f"npz:{tmp_path / 'bad.npz'}: t_train has one class only"):
        outside.load_arrays(f"npz:{tmp_path / 'bad.npz'}")
    np.savez(tmp_path / "objects.npz", x_train=np.array([None, 1], dtype=object))
    for name, cause in (("none.npz", "No such file or directory"), ("objects.npz", "allow_pickle=False")):
        with pytest.raises(DatasetError, match=rf"^{re.escape(str(tmp_path / name))}: cannot read it as \.npz \(.*"
                                               rf"{cause}.*\); save the arrays with numpy\.savez$"):
            outside.load_arrays(f"npz:{tmp_path / name}")


def test_idx_folder_loads_under_mnist_names(tmp_path):
    images, labels, test_images, test_labels = tiny_idx_files(tmp_path / "d", n_train=30, n_test=10)
    got = outside.load_arrays(f"idx:{tmp_path / 'd'}")
    for key, want in zip(outside.PARTS, (images, labels, test_images, test_labels)):
        np.testing.assert_array_equal(got[key], want)
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "d" / "train-images-idx3-ubyte.gz").unlink()
    with refused(f"{tmp_path / 'd'}: no train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (compressed or not); "
                 "idx:DIR needs the four files under MNIST's names"):
        outside.load_arrays(f"idx:{tmp_path / 'd'}")
    write_idx(tmp_path / "d" / "train-images-idx3-ubyte", images)  # uncompressed counts too
    write_idx(tmp_path / "d" / "t10k-labels-idx1-ubyte", test_labels)
    np.testing.assert_array_equal(outside.load_arrays(f"idx:{tmp_path / 'd'}")["t_test"], test_labels)
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"):  # one label per sample
        good = read_idx(tmp_path / "d" / name)
        write_idx(tmp_path / "d" / name, good[:, None])
        with pytest.raises(DatasetError, match=f"{name}: has 2 dimensions, expected 1"):
            outside.load_arrays(f"idx:{tmp_path / 'd'}")
        write_idx(tmp_path / "d" / name, good)


class EntryPoint:
    """What importlib.metadata hands out for a registered data set."""

    def __init__(self, name, fn):
        self.name, self.value, self.fn = name, f"pkg:{name}", fn

    def load(self):
        return self.fn


def test_registered_data_sets(monkeypatch):
    data = arrays()
    plugins = {"as_dict": EntryPoint("as_dict", lambda: data),
               "as_tuple": EntryPoint("as_tuple", lambda: tuple(data[p] for p in outside.PARTS)),
               "with_val": EntryPoint("with_val", lambda: (*(data[p] for p in outside.PARTS), data["x_test"],
                                                           data["t_test"])),
               "broken": EntryPoint("broken", lambda: 1 / 0)}
    monkeypatch.setattr(outside, "registered", lambda: plugins)
    assert outside.is_outside("as_dict") and not outside.is_outside("unknown")
    for name in ("as_dict", "as_tuple"):
        got = outside.load_arrays(name)
        assert sorted(got) == sorted(outside.PARTS) and all(got[k] is data[k] for k in outside.PARTS)
    assert outside.load_arrays("with_val")["x_val"] is data["x_test"]
    with refused("data set 'broken' (entry point pkg:broken) failed: ZeroDivisionError: division by zero"):
        outside.load_arrays("broken")
    # A plugin's data set is identified by its arrays: names, types, shapes and bytes.
    first = outside.digest("as_dict")
    assert first == outside.digest("as_tuple") and len(first) == 64
    data["x_train"] = data["x_train"].astype(np.float32)
    assert outside.digest("as_dict") != first


def test_digest_follows_file_names_and_bytes(tmp_path):
    np.savez(tmp_path / "d.npz", **arrays())
    first = outside.digest(f"npz:{tmp_path / 'd.npz'}")
    assert first == hashlib.sha256(b"d.npz" + (tmp_path / "d.npz").read_bytes()).hexdigest()  # the file as it is
    np.savez(tmp_path / "d.npz", **arrays(seed=1))
    assert outside.digest(f"npz:{tmp_path / 'd.npz'}") != first
    tiny_idx_files(tmp_path / "i")
    folder = outside.digest(f"idx:{tmp_path / 'i'}")
    (tmp_path / "i" / "sub").mkdir()  # folders inside are not data
    assert outside.digest(f"idx:{tmp_path / 'i'}") == folder
    (tmp_path / "i" / "README").write_text("x")
    with_readme = outside.digest(f"idx:{tmp_path / 'i'}")
    assert with_readme != folder
    (tmp_path / "i" / "README").rename(tmp_path / "i" / "NOTES")  # same bytes, another name
    assert outside.digest(f"idx:{tmp_path / 'i'}") not in (folder, with_readme)


def test_registered_data_sets_come_from_their_own_group(tmp_path, monkeypatch):
    from nncore.datasets import outside

    fake_distribution(tmp_path, "mydata", "[nnbench.datasets]\nblobs = mydata:blobs\n[console_scripts]\nx = a:b\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert set(outside.registered()) >= {"blobs"} and "x" not in outside.registered()
    assert outside.is_outside("blobs")

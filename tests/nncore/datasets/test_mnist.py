"""nncore.datasets.mnist: finding, downloading, checking and reading MNIST and Fashion-MNIST."""

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import nncore
from nncore.datasets import DatasetError, load, mnist, prepared
from nncore.datasets.download import file_digest
from nncore.datasets.idx import content_digest
from nncore.datasets.mnist import FILES
from tests.conftest import stand_in_for, tiny_idx_files
from tests.helpers import needs_fashion


def test_files_under_mnist_names_that_are_not_mnist_are_refused(tmp_path):
    tiny_idx_files(tmp_path / "other")  # right format and names, not the official content
    with pytest.raises(DatasetError) as info:
        load("mnist", data_dir=tmp_path / "other", allow_download=False)
    message = str(info.value)
    assert "\n" not in message and "is not the official mnist train-images-idx3-ubyte" in message
    assert f"--dataset idx:{tmp_path / 'other'}" in message
    assert not (mnist.cache_dir("mnist") / "prepared").exists()  # nothing converted from them


def test_official_content_passes_however_it_is_compressed(tmp_path, monkeypatch):
    """The published digests are of the uncompressed files: a recompressed copy (Debian's) or a
    decompressed one is the same data set; one changed byte is not."""
    arrays = tiny_idx_files(tmp_path / "gz")
    stand_in_for(monkeypatch, "mnist", tmp_path / "gz")
    (tmp_path / "raw").mkdir()
    for name, array in zip(FILES, arrays):
        nncore.datasets.write_idx(tmp_path / "raw" / name.removesuffix(".gz"), array)
    assert [content_digest(tmp_path / "raw" / f.removesuffix(".gz")) for f in FILES] == \
        [content_digest(tmp_path / "gz" / f) for f in FILES]
    assert load("mnist", data_dir=tmp_path / "raw").x_train.shape == (60, 784)
    arrays[2][0, 0, 0] ^= 1
    (tmp_path / "edited").mkdir()
    for name, array in zip(FILES, arrays):
        nncore.datasets.write_idx(tmp_path / "edited" / name, array)
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz: is not the official mnist"):
        load("mnist", data_dir=tmp_path / "edited")


@needs_fashion
def test_debian_fashion_mnist_is_the_official_content():
    paths = mnist.locate(mnist.FASHION_MNIST, allow_download=False)
    mnist.check_official(mnist.FASHION_MNIST, paths)  # raises when a byte differs
    assert [file_digest(p, "md5") for p in paths] != list(mnist.FASHION_MNIST.digests)  # recompressed by Debian


def test_nnbench_data_environment_variable(tiny_mnist, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist.parent))  # found in its "mnist" subfolder
    (tiny_mnist.parent / "mnist").symlink_to(tiny_mnist)
    assert load("mnist", allow_download=False).x_train.shape == (60, 784)


def test_offline_error_names_folder_files_and_alternatives(tmp_path):
    with pytest.raises(DatasetError) as info:
        load("mnist", allow_download=False)
    message = str(info.value)
    assert "\n" not in message
    assert str(mnist.cache_dir("mnist")) in message
    assert all(f in message for f in FILES)
    assert "fashion_mnist" in message and "digits" in message


def spec_for(server, digests=None, mirrors=None):
    return replace(mnist.MNIST, mirrors=mirrors or (server.url + "/ok/",),
                   digests=digests or tuple(server.sha256[f] for f in FILES))


def test_download_verifies_and_caches(file_server, monkeypatch):
    spec = spec_for(file_server)
    paths = mnist.locate(spec)
    assert [p.parent for p in paths] == [mnist.cache_dir("mnist")] * 4
    assert all(file_digest(p) == file_server.sha256[p.name] for p in paths)
    assert not [p for p in paths[0].parent.iterdir() if p.name.endswith(".part")]
    # Second time the cache answers: the server is not asked.
    file_server.files.clear()
    assert mnist.locate(spec) == paths
    monkeypatch.setitem(nncore.datasets.IMAGE_SPECS, "mnist", spec)
    stand_in_for(monkeypatch, "mnist", mnist.cache_dir("mnist"))
    assert load("mnist").x_train.shape == (60, 784)


def test_checksum_mismatch_leaves_nothing(file_server):
    spec = spec_for(file_server, digests=("0" * 64,) * 4)
    with pytest.raises(DatasetError, match="sha256 mismatch"):
        mnist.locate(spec)
    assert not any(mnist.cache_dir("mnist").iterdir())


@pytest.mark.slow
@needs_fashion
def test_fashion_mnist_end_to_end_learns():
    """Debian's real Fashion-MNIST files: a small network reaches well above chance in 300 steps."""
    d = load("fashion_mnist", dtype=np.float32)
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    rng = np.random.default_rng(0)
    net = nncore.MLP([784, 100, 10], rng, dtype=np.float32)
    opt = nncore.Adam()
    for _ in range(300):
        idx = rng.choice(60000, 128)
        opt.update(net.params, net.gradient(d.x_train[idx], d.t_train[idx])[1])
    assert net.accuracy(d.x_test, d.t_test) > 0.75


def damaged_set(folder, **replace_arrays):
    """The four tiny files with some arrays replaced (by FILES index: 0 images, 1 labels, 2, 3)."""
    tiny_idx_files(folder)
    for index, array in replace_arrays.items():
        nncore.datasets.write_idx(folder / FILES[int(index[1:])], array)
    return [str(folder / f) for f in FILES]


@pytest.mark.parametrize("replace_arrays, message", [
    ({"f0": np.zeros((60, 784), np.uint8)}, "{0}: has 2 dimensions, expected 3; is it the right file?"),
    ({"f2": np.zeros((20, 28, 28, 1), np.uint8)}, "{2}: has 4 dimensions, expected 3; is it the right file?"),
    ({"f1": np.zeros((60, 1), np.uint8)}, "{1}: has 2 dimensions, expected 1; is it the right file?"),
    ({"f3": np.zeros((20, 1), np.uint8)}, "{3}: has 2 dimensions, expected 1; is it the right file?"),
    ({"f1": np.zeros(59, np.uint8)}, "{1}: holds 59 items, expected 60; is it the right file?"),
    ({"f3": np.zeros(21, np.uint8)}, "{3}: holds 21 items, expected 20; is it the right file?"),
    ({"f0": np.zeros((0, 28, 28), np.uint8), "f1": np.zeros(0, np.uint8)}, "{1}: holds no samples; is it the right "
                                                                           "file?"),
    ({"f2": np.zeros((0, 28, 28), np.uint8), "f3": np.zeros(0, np.uint8)}, "{3}: holds no samples; is it the right "
                                                                           "file?"),
    ({"f1": np.full(60, 10, np.uint8)}, "{1}: labels run from 10 to 10, but these data sets have classes 0-9; is it "
                                        "the right file? (your own data: --dataset npz:PATH)"),
    ({"f3": np.full(20, -1, np.int8)}, "{3}: labels run from -1 to -1, but these data sets have classes 0-9; is it "
                                       "the right file? (your own data: --dataset npz:PATH)"),
    ({"f0": np.full((60, 28, 28), 7, np.uint8)}, "{0}: every pixel of every image is 7: the images are blank; "
                                                 "delete the file and fetch it again"),
    ({"f2": np.zeros((20, 28, 28), np.uint8)}, "{2}: every pixel of every image is 0: the images are blank; "
                                               "delete the file and fetch it again"),
])
def test_read_all_names_the_damaged_file(tmp_path, replace_arrays, message):
    paths = damaged_set(tmp_path / "set", **replace_arrays)
    with pytest.raises(DatasetError, match="^" + re.escape(message.format(*paths)) + "$"):
        mnist.read_all(paths)


def test_read_all_accepts_every_class_from_0_to_9(tmp_path):
    labels = np.arange(60, dtype=np.uint8) % 10
    x_train, t_train, x_test, t_test = mnist.read_all(damaged_set(tmp_path / "set", f1=labels))
    assert x_train.shape == (60, 28, 28) and x_test.shape == (20, 28, 28) and t_test.shape == (20,)
    np.testing.assert_array_equal(t_train, labels)
    mnist.read_all(damaged_set(tmp_path / "one", f1=np.ones(60, np.uint8)))  # one sample per label is not zero


def test_a_missing_image_set_is_downloaded_unless_told_not_to(monkeypatch):
    spec = replace(mnist.MNIST, mirrors=("http://127.0.0.1:9/",))
    with pytest.raises(DatasetError, match=r"^mnist not found \(download failed: could not download "
                                           r"train-images-idx3-ubyte\.gz: http://127\.0\.0\.1:9/"):
        mnist.load(spec, np.float64, 255.0)
    with pytest.raises(DatasetError, match=r"^mnist not found: place "):
        mnist.load(spec, np.float64, 255.0, allow_download=False)


def test_where_image_sets_are_looked_for(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cache = tmp_path / "home" / ".cache" / "nnbench" / "fashion_mnist"
    assert mnist.cache_dir("fashion_mnist") == cache
    system = Path("/usr/share/datasets/fashion-mnist")
    assert mnist.search_dirs(mnist.FASHION_MNIST) == [cache, system]
    monkeypatch.setenv("NNBENCH_DATA", str(tmp_path / "env"))
    assert mnist.search_dirs(mnist.FASHION_MNIST) == [tmp_path / "env", tmp_path / "env" / "fashion_mnist", cache,
                                                      system]
    assert mnist.search_dirs(mnist.MNIST, tmp_path / "mine") == [tmp_path / "mine", tmp_path / "mine" / "mnist",
                                                                 cache.parent / "mnist"]


def test_the_offline_message_in_full(tmp_path, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tmp_path / "d"))
    target = mnist.cache_dir("mnist")
    looked = ", ".join(str(p) for p in (tmp_path / "d", tmp_path / "d" / "mnist", target))
    with pytest.raises(DatasetError) as info:
        mnist.locate(mnist.MNIST, allow_download=False)
    assert str(info.value) == (
        f"mnist not found: place {', '.join(FILES)} in {target} or in a folder named by NNBENCH_DATA (looked in "
        f"{looked}); offline alternatives: --dataset fashion_mnist (apt-get install dataset-fashion-mnist) or "
        "--dataset digits")


def test_downloads_are_checked_with_the_sets_own_algorithm(file_server):
    digests = tuple(hashlib.md5(file_server.files[f]).hexdigest() for f in FILES)
    spec = replace(spec_for(file_server), digests=digests, algorithm="md5")
    assert [p.name for p in mnist.locate(spec)] == list(FILES)


def test_the_not_official_message_in_full(tmp_path):
    paths = damaged_set(tmp_path / "set")
    found = content_digest(paths[0])
    with pytest.raises(DatasetError) as info:
        mnist.check_official(mnist.MNIST, paths)
    assert str(info.value) == (
        f"{paths[0]}: is not the official mnist train-images-idx3-ubyte (SHA-256 of its content {found[:12]}..., "
        f"published {mnist.MNIST.contents[0][:12]}...); delete it to fetch the real one, or run your own images in "
        f"this format with --dataset idx:{tmp_path / 'set'}")


def test_image_sets_hash_their_cache_only_when_asked(tiny_mnist, monkeypatch):
    spec = replace(mnist.MNIST, contents=tuple(content_digest(tiny_mnist / f) for f in FILES))
    mnist.load(spec, np.float64, 255.0, tiny_mnist)
    monkeypatch.setattr(prepared, "_intact", lambda *args: pytest.fail("verified without being asked"))
    assert mnist.load(spec, np.float64, 255.0, tiny_mnist)[0].shape == (60, 28, 28)

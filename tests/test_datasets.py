import hashlib
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import nncore
from nncore.datasets import DatasetError, load, mnist, prepared
from nncore.datasets.download import download, file_digest
from nncore.datasets.idx import content_digest
from nncore.datasets.mnist import FILES
from tests.conftest import stand_in_for, tiny_idx_files
from tests.helpers import fake_distribution, needs_fashion


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


def test_images_are_converted_once_then_memory_mapped(tiny_mnist, monkeypatch):
    raw = mnist.read_all([str(tiny_mnist / f) for f in FILES])
    first = load("mnist", data_dir=tiny_mnist)
    # Bitwise what dividing the uint8 pixels by 255 gives, labels as int64.
    assert np.array_equal(first.x_train, (raw[0] / 255.0).reshape(60, 784))
    assert first.t_train.dtype == np.int64 and np.array_equal(first.t_test, raw[3])
    folders = list((mnist.cache_dir("mnist") / "prepared").iterdir())
    assert len(folders) == 1 and (folders[0] / "complete").is_file()

    def no_reading(paths):
        raise AssertionError("the IDX files were read again")

    monkeypatch.setattr(mnist, "read_all", no_reading)
    again = load("mnist", data_dir=tiny_mnist)
    assert np.array_equal(again.x_train, first.x_train) and np.array_equal(again.t_train, first.t_train)
    with pytest.raises(ValueError):  # shared by every process that maps it: read-only
        again.x_train[0, 0] = 1.0


def test_prepared_arrays_follow_their_source_and_options(tiny_mnist, monkeypatch):
    paths = [str(tiny_mnist / f) for f in FILES]
    base = prepared.key(paths, np.float64, 255.0)
    assert prepared.key(paths, np.float32, 255.0) != base and prepared.key(paths, np.float64, None) != base
    load("mnist", data_dir=tiny_mnist)
    # A replaced file is a new key: the new pixels are converted, never the stale ones served.
    tiny_idx_files(tiny_mnist, seed=1)
    stand_in_for(monkeypatch, "mnist", tiny_mnist)
    assert prepared.key(paths, np.float64, 255.0) != base
    fresh = mnist.read_all(paths)
    assert np.array_equal(load("mnist", data_dir=tiny_mnist).x_test, (fresh[2] / 255.0).reshape(20, 784))


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


def test_unwritable_cache_falls_back_to_memory(tiny_mnist, tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    d = load("mnist", data_dir=tiny_mnist)
    assert d.x_train.shape == (60, 784) and d.x_train.max() == 1.0


def test_damaged_cache_is_rebuilt(tiny_mnist):
    good = load("mnist", data_dir=tiny_mnist).x_train.copy()
    (folder,) = (mnist.cache_dir("mnist") / "prepared").iterdir()
    (folder / "x_train.npy").write_bytes(b"not an npy file")
    assert np.array_equal(load("mnist", data_dir=tiny_mnist).x_train, good)


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


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'.*mnist, fashion_mnist"):
        load("cifar")


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


def test_broken_connection_falls_back_to_next_mirror(file_server, tmp_path):
    name = FILES[1]
    tmp_path = tmp_path / "dest"
    with pytest.raises(DatasetError, match="connection closed after|IncompleteRead|Incomplete"):
        download(name, [file_server.url + "/broken/"], tmp_path, file_server.sha256[name])
    assert list(tmp_path.iterdir()) == []
    path = download(name, [file_server.url + "/broken/", file_server.url + "/ok/"], tmp_path,
                    file_server.sha256[name])
    assert file_digest(path) == file_server.sha256[name]


def test_toy_generators_give_integer_labels():
    """Labels are int64 from the generator on (float labels index nothing and one_hot would refuse them)."""
    from nncore.datasets import toy

    for generator in (toy.digits, toy.moons, toy.xor):
        x, t, xt, tt = generator()
        assert x.dtype == xt.dtype == np.float64 and t.dtype == tt.dtype == np.int64, generator.__name__


def test_the_class_count_is_that_of_the_labels_kept():
    """n_train / n_test keep the first samples; the classes are those their labels name (largest + 1)."""
    first = load("xor", n_train=1, n_test=1, one_hot_labels=True)  # labels [0] and [0]
    assert first.n_classes == 1 and first.t_train.shape == (1, 1)
    assert load("xor", n_train=2, n_test=1).n_classes == 2


def test_unreachable_mirror_is_one_line(tmp_path):
    with pytest.raises(DatasetError) as info:
        download(FILES[0], ["http://127.0.0.1:9/"], tmp_path, "0" * 64, timeout=2)
    assert "\n" not in str(info.value) and "127.0.0.1:9" in str(info.value)


def test_toy_sets():
    moons = load("moons", n=100, noise=0.1, seed=3)
    assert moons.x_train.shape == (100, 2) and moons.x_test.shape == (100, 2) and moons.n_classes == 2
    assert not np.array_equal(moons.x_train, moons.x_test)
    digits = load("digits")
    assert digits.x_train.shape == (1497, 64) and digits.x_test.shape == (300, 64) and digits.x_train.max() == 1
    xor = load("xor")
    assert xor.t_train.tolist() == [0, 1, 1, 0]


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


def test_fingerprint_names_the_content(tmp_path):
    from nncore.datasets import fingerprint, outside

    assert fingerprint("mnist")["sha256"]["t10k-labels-idx1-ubyte"] == mnist.MNIST.contents[3]
    np.savez(tmp_path / "d.npz", x_train=np.eye(4), t_train=[0, 1, 0, 1], x_test=np.eye(4), t_test=[1, 0, 1, 0])
    name = f"npz:{tmp_path / 'd.npz'}"
    assert fingerprint(name) == {"sha256": outside.digest(name)} and len(outside.digest(name)) == 64
    assert fingerprint("moons")["source"].startswith("scikit-learn ")


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


def test_prepared_cache_is_verified_only_when_asked_and_rebuilt_in_place(tmp_path):
    """verify=True compares the stored digests of the sources and of every array with the files: a flipped
    bit in an array (same size, so the key does not change) is found and the set rebuilt where it was."""
    source = tmp_path / "src.bin"
    source.write_bytes(b"source")
    raw = (np.arange(12, dtype=np.uint8).reshape(3, 4), np.array([0, 1, 2], np.uint8),
           np.arange(8, dtype=np.uint8).reshape(2, 4), np.array([1, 0], np.uint8))
    reads = []

    def read():
        reads.append(1)
        return raw

    folder = tmp_path / "prepared"
    first = prepared.load(folder, [str(source)], np.float32, 255.0, read)
    assert len(reads) == 1 and not first[0].flags.writeable and first[0].dtype == np.float32
    np.testing.assert_array_equal(first[0], raw[0] / np.float32(255))
    assert first[1].dtype == np.int64
    (target,) = folder.iterdir()
    record = json.loads((target / "complete").read_text())
    assert record == {"sources": [file_digest(source)],
                      "arrays": {p: file_digest(target / f"{p}.npy") for p in prepared.PARTS}}
    prepared.load(folder, [str(source)], np.float32, 255.0, read, verify=True)
    assert len(reads) == 1  # intact: mapped, not rebuilt

    stored = target / "x_test.npy"
    data = bytearray(stored.read_bytes())
    data[-1] ^= 1
    stored.write_bytes(bytes(data))
    os.utime(source, ns=(os.stat(source).st_atime_ns, os.stat(source).st_mtime_ns))  # the key is unchanged
    expected = raw[2] / np.float32(255)
    assert not np.array_equal(prepared.load(folder, [str(source)], np.float32, 255.0, read)[2], expected)
    again = prepared.load(folder, [str(source)], np.float32, 255.0, read, verify=True)
    assert len(reads) == 2 and np.array_equal(again[2], expected) and not again[2].flags.writeable
    assert prepared.load(folder, [str(source)], np.float32, 255.0, read, verify=True) and len(reads) == 2

    record["sources"] = ["0" * 64]  # the source changed under the same size and time
    (target / "complete").write_text(json.dumps(record))
    prepared.load(folder, [str(source)], np.float32, 255.0, read, verify=True)
    assert len(reads) == 3 and json.loads((target / "complete").read_text())["sources"] == [file_digest(source)]
    source.unlink()
    assert not prepared._intact(target, [str(source)], record)  # a source that is gone is not intact


def test_one_hot_and_fingerprints():
    from nncore.datasets import fingerprint, one_hot

    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 2, np.float32).dtype == np.float32 and one_hot(np.array([1]), 2).dtype == np.float64
    assert fingerprint("xor") == {"source": "the four XOR points"}
    from importlib.metadata import version

    assert fingerprint("digits") == {"source": f"scikit-learn {version('scikit-learn')}"}


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


def test_cached_arrays_follow_dtype_and_scale_and_hash_only_when_verifying(tiny_mnist, monkeypatch):
    assert len(prepared.key([str(tiny_mnist / FILES[0])], np.float64, 255.0)) == 24
    scaled = load("mnist", data_dir=tiny_mnist)
    expected = scaled.x_test.copy()  # the loaded arrays map the cache's files
    raw = load("mnist", data_dir=tiny_mnist, normalize=False, dtype=np.float32)
    assert scaled.x_train.max() == 1.0 and raw.x_train.max() == 255.0 and raw.x_train.dtype == np.float32
    assert load("mnist", data_dir=tiny_mnist, dtype=np.float32).x_train.dtype == np.float32
    (folder,) = [f for f in (mnist.cache_dir("mnist") / "prepared").iterdir()
                 if np.load(f / "x_test.npy").dtype == np.float64]
    stored = folder / "x_test.npy"
    flipped = bytearray(stored.read_bytes())
    flipped[-1] ^= 0x40
    stored.write_bytes(bytes(flipped))
    monkeypatch.setattr(prepared, "file_digest", lambda path: pytest.fail("hashed without verify"))
    assert not np.array_equal(load("mnist", data_dir=tiny_mnist).x_test, expected)  # mapped as it is
    monkeypatch.undo()
    stand_in_for(monkeypatch, "mnist", tiny_mnist)
    assert np.array_equal(load("mnist", data_dir=tiny_mnist, verify=True).x_test, expected)  # found, rebuilt
    assert load("mnist", data_dir=tiny_mnist, normalize=False).x_train.max() == 255.0  # not the scaled cache


def test_a_missing_image_set_is_downloaded_unless_told_not_to(monkeypatch):
    spec = replace(mnist.MNIST, mirrors=("http://127.0.0.1:9/",))
    with pytest.raises(DatasetError, match=r"^mnist not found \(download failed: could not download "
                                           r"train-images-idx3-ubyte\.gz: http://127\.0\.0\.1:9/"):
        mnist.load(spec, np.float64, 255.0)
    with pytest.raises(DatasetError, match=r"^mnist not found: place "):
        mnist.load(spec, np.float64, 255.0, allow_download=False)


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


def test_registered_data_sets_come_from_their_own_group(tmp_path, monkeypatch):
    from nncore.datasets import outside

    fake_distribution(tmp_path, "mydata", "[nnbench.datasets]\nblobs = mydata:blobs\n[console_scripts]\nx = a:b\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert set(outside.registered()) >= {"blobs"} and "x" not in outside.registered()
    assert outside.is_outside("blobs")

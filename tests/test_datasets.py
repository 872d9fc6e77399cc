from dataclasses import replace

import numpy as np
import pytest

import nncore
from nncore.datasets import DatasetError, load, mnist, prepared
from nncore.datasets.download import download, file_digest
from nncore.datasets.idx import content_digest
from nncore.datasets.mnist import FILES
from tests.conftest import stand_in_for, tiny_idx_files
from tests.helpers import needs_fashion


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
    monkeypatch.setattr(toy, "moons", lambda **kw: pytest.fail("generated again"))
    again = load("moons", n=50, noise=0.1, seed=4)  # from the cache: scikit-learn not called
    assert np.array_equal(again.x_train, first.x_train) and np.array_equal(again.t_test, first.t_test)
    monkeypatch.undo()
    assert load("moons", n=50, noise=0.2, seed=4).x_train.tolist() != first.x_train.tolist()  # another key
    path.write_bytes(b"not an npz")
    assert np.array_equal(load("moons", n=50, noise=0.1, seed=4).x_train, first.x_train)

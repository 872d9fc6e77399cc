"""nncore.datasets.prepared: converted arrays cached, memory-mapped, verified when asked, rebuilt."""

import json
import os

import numpy as np
import pytest

from nncore.datasets import load, mnist, prepared
from nncore.datasets.download import file_digest
from nncore.datasets.mnist import FILES
from tests.conftest import stand_in_for, tiny_idx_files


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

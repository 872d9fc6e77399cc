"""nncore.datasets.idx: reading and writing IDX files, by the format's definition, and every error."""

import gzip

import numpy as np
import pytest

from nncore.datasets import DatasetError, read_idx, write_idx


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, name, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, array)


def test_one_byte_arrays_are_read_only_views_and_wider_ones_native(tmp_path):
    write_idx(tmp_path / "u8.idx", np.arange(6, dtype=np.uint8))
    write_idx(tmp_path / "i32.idx", np.arange(6, dtype=np.int32))
    u8, i32 = read_idx(tmp_path / "u8.idx"), read_idx(tmp_path / "i32.idx")
    assert not u8.flags.writeable and not u8.flags.owndata  # a view of the bytes read, not a copy
    assert i32.dtype.isnative and i32.flags.writeable


def test_gzip_is_written_at_its_fastest_level(tmp_path):
    """RFC 1952: the header's XFL byte is 4 when the compressor used its fastest algorithm."""
    write_idx(tmp_path / "a.idx.gz", np.arange(100, dtype=np.uint8))
    raw = (tmp_path / "a.idx.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[8] == 4


def write_bytes(tmp_path, data, name="f.idx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_bad_magic_names_the_file(tmp_path):
    path = write_bytes(tmp_path, b"\x1a\x2b\x08\x01" + b"\x00" * 8)
    with pytest.raises(DatasetError, match=r"f\.idx: not an IDX file \(bad magic number 1a2b0801\)"):
        read_idx(path)


def test_empty_file(tmp_path):
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(write_bytes(tmp_path, b""))


def test_truncated_data(tmp_path):
    write_idx(tmp_path / "ok.idx", np.zeros((10, 4), np.uint8))
    data = (tmp_path / "ok.idx").read_bytes()
    path = write_bytes(tmp_path, data[:-7])
    with pytest.raises(DatasetError, match=r"f\.idx: truncated: 33 of 40 data bytes"):
        read_idx(path)


def test_truncated_header(tmp_path):
    with pytest.raises(DatasetError, match="truncated inside its header"):
        read_idx(write_bytes(tmp_path, b"\x00\x00\x08\x03\x00\x00\x00\x02"))


def test_trailing_bytes(tmp_path):
    write_idx(tmp_path / "ok.idx", np.zeros(5, np.uint8))
    path = write_bytes(tmp_path, (tmp_path / "ok.idx").read_bytes() + b"xyz")
    with pytest.raises(DatasetError, match="3 bytes past the data"):
        read_idx(path)


def test_expected_shape_checks(tmp_path):
    write_idx(tmp_path / "l.idx", np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match="has 1 dimensions, expected 3"):
        read_idx(tmp_path / "l.idx", expect_ndim=3)
    with pytest.raises(DatasetError, match="holds 5 items, expected 6"):
        read_idx(tmp_path / "l.idx", expect_count=6)


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x03abc")
    path = write_bytes(tmp_path, good[:12], "f.idx.gz")
    with pytest.raises(DatasetError, match=r"f\.idx\.gz: corrupt gzip data"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(tmp_path / "nope.idx")


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


def idx_bytes(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + np.array(dims, ">u4").tobytes() + payload


@pytest.mark.parametrize("code, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, ">i2"), (0x0C, ">i4"),
                                         (0x0D, ">f4"), (0x0E, ">f8")])
def test_idx_type_codes_from_the_format_definition(tmp_path, code, dtype):
    """The codes as LeCun's page defines them, written by hand, not by nncore's writer."""
    values = np.array([[1, 2, 3], [4, 5, 6]]).astype(dtype)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(code, [2, 3], values.tobytes()))
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype).newbyteorder("=") and np.array_equal(got, values)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(path.read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "a.idx.gz"), values)


@pytest.mark.parametrize("data, message", [
    (bytes([1, 0, 8, 1]) + b"\0\0\0\1" + b"x", "bad magic"),
    (bytes([0, 1, 8, 1]) + b"\0\0\0\1" + b"x", "bad magic"),
    (bytes([0, 0, 7, 1]) + b"\0\0\0\1" + b"x", "bad magic"),
    (bytes([0, 0, 8]), "bad magic"),
    (bytes([0, 0, 8, 0]), "truncated: 0 of 1"),  # a whole magic number, no data: not a bad magic
    (bytes([0, 0, 8, 2]) + b"\0\0\0\1", "truncated inside its header"),
    (bytes([0, 0, 8, 1]) + b"\0\0\0\3" + b"xy", "truncated: 2 of 3"),
    (bytes([0, 0, 8, 1]) + b"\0\0\0\1" + b"xy", "1 bytes past the data"),
])
def test_idx_header_checks(tmp_path, data, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=message):
        read_idx(path)


def test_an_idx_file_of_exactly_four_bytes_with_no_dimensions_is_a_scalar(tmp_path):
    path = tmp_path / "scalar.idx"
    path.write_bytes(idx_bytes(0x08, [], b"\x07"))
    assert read_idx(path).tolist() == 7

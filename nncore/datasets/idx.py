"""Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed), validating as it goes."""

import gzip
import hashlib
import zlib

import numpy as np

from nncore.datasets.errors import DatasetError

# Third byte of the magic number -> element type (big-endian where it matters).
_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{path}: corrupt gzip data ({e}); delete the file and fetch it again") from None
    return data


def content_digest(path):
    """SHA-256 of the file's IDX bytes, decompressed when gzip: the same for every compression of one file."""
    return hashlib.sha256(_read_bytes(path)).hexdigest()


def read_idx(path, expect_ndim=None, expect_count=None):
    """The array stored in an IDX file. Checks the magic number, the dimensions, the element count
    against the file length and, when given, the number of dimensions and of items. One-byte types come
    back as a read-only view of the bytes read (no copy of MNIST's 47 MB), wider ones in native order."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'empty'}); "
                           "delete it and fetch it again")
    dtype, ndim = np.dtype(_TYPES[data[2]]), data[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise DatasetError(f"{path}: has {ndim} dimensions, expected {expect_ndim}; is it the right file?")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated inside its header; delete it and fetch it again")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    if expect_count is not None and dims[0] != expect_count:
        raise DatasetError(f"{path}: holds {dims[0]} items, expected {expect_count}; is it the right file?")
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(data) - header
    if have < need:
        raise DatasetError(f"{path}: truncated: {have} of {need} data bytes; delete it and fetch it again")
    if have > need:
        raise DatasetError(f"{path}: {have - need} bytes past the data its header declares; the file is corrupt")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def write_idx(path, array, compress=None):
    """Write an array as IDX (gzip at its fastest level, 1, when `compress` or the name ends in .gz). For
    tests and tools."""
    array = np.asarray(array)
    code = {np.dtype(v).newbyteorder(">").str: k for k, v in _TYPES.items()}
    big = array.astype(array.dtype.newbyteorder(">"), copy=False)
    header = bytes([0, 0, code[big.dtype.str], array.ndim]) + np.array(array.shape, ">u4").tobytes()
    payload = header + big.tobytes()
    if compress or (compress is None and str(path).endswith(".gz")):
        payload = gzip.compress(payload, compresslevel=1)
    with open(path, "wb") as f:
        f.write(payload)

"""Datasets by name, with the options every experiment uses: `load("fashion_mnist", n_train=1000)`."""

from dataclasses import dataclass

import numpy as np

from nncore.datasets import mnist, outside, prepared, toy
from nncore.datasets.errors import DatasetError
from nncore.datasets.idx import read_idx, write_idx

NAMES = ("mnist", "fashion_mnist", "digits", "moons", "xor")
IMAGE_SPECS = {"mnist": mnist.MNIST, "fashion_mnist": mnist.FASHION_MNIST}
IMAGE_SETS = tuple(IMAGE_SPECS)


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    n_classes: int
    x_val: np.ndarray = None
    t_val: np.ndarray = None


def _arrays(name, normalize, dtype, data_dir, allow_download, verify, params):
    """(x_train, t_train, x_test, t_test) as float `dtype` and int64 labels, before any option applies,
    and (x_val, t_val) where the data set brings its own validation split (else None, None)."""
    if name in IMAGE_SPECS:
        return (*mnist.load(IMAGE_SPECS[name], dtype, 255.0 if normalize else None, data_dir, allow_download,
                            verify), None, None)
    if outside.is_outside(name):
        arrays = outside.load_arrays(name)
        scale = 255.0 if normalize and arrays["x_train"].dtype == np.uint8 else None  # IDX or uint8 pixels
        converted = prepared.convert(tuple(arrays[p] for p in outside.PARTS), dtype, scale)
        if "x_val" not in arrays:
            return (*converted, None, None)
        x_val, t_val, _, _ = prepared.convert((arrays["x_val"], arrays["t_val"], arrays["x_val"][:0],
                                               arrays["t_val"][:0]), dtype, scale)
        return (*converted, x_val, t_val)
    if name == "digits":
        raw, scale = toy.cached("digits", toy.digits, **params), 16.0
    elif name == "moons":
        raw, scale = toy.cached("moons", toy.moons, **params), None
    elif name == "xor":
        raw, scale = toy.xor(), None
    else:
        raise DatasetError(f"unknown dataset {name!r}: choose from {', '.join(NAMES)}")
    return (*prepared.convert(raw, dtype, scale if normalize else None), None, None)


def fingerprint(name):
    """What identifies a data set's content, for a run's record: the published SHA-256 of an image
    set's files (which every load checks), an outside set's own SHA-256, or what generates it."""
    if name in IMAGE_SPECS:
        return {"sha256": dict(zip((f.removesuffix(".gz") for f in mnist.FILES), IMAGE_SPECS[name].contents))}
    if outside.is_outside(name):
        return {"sha256": outside.digest(name)}
    if name == "xor":
        return {"source": "the four XOR points"}
    from importlib.metadata import version  # not sklearn itself: importing it takes seconds

    return {"source": f"scikit-learn {version('scikit-learn')}"}


def one_hot(t, n_classes, dtype=np.float64):
    out = np.zeros((t.size, n_classes), dtype=dtype)
    out[np.arange(t.size), t] = 1
    return out


def load(name, *, normalize=True, flatten=True, one_hot_labels=False, n_train=None, n_test=None, validation=0,
         split_seed=0, dtype=np.float64, data_dir=None, allow_download=True, verify=False, **params):
    """Load a dataset as float arrays of `dtype` and integer (or one-hot) labels. Image arrays are
    read-only (memory-mapped from the prepared cache): copy one before changing it in place.

    normalize: scale pixels to [0, 1] (images, digits). flatten: images as rows of 784, else
    (N, 1, 28, 28). n_train / n_test: keep the first N training / test samples. validation: a fraction (< 1) or a
    count of the (first-N) training samples held out after a shuffle seeded by `split_seed`.
    params go to the generator (moons: n, noise, seed).
    verify: image sets check the prepared cache's digests against their source files (and rebuild it).
    """
    x_train, t_train, x_test, t_test, x_val, t_val = _arrays(name, normalize, dtype, data_dir, allow_download,
                                                             verify, params)
    if n_train is not None:
        x_train, t_train = x_train[:n_train], t_train[:n_train]
    if n_test is not None:
        x_test, t_test = x_test[:n_test], t_test[:n_test]
    if name in IMAGE_SETS:
        shape = (-1, x_train[0].size) if flatten else (-1, 1) + x_train.shape[1:]
        x_train, x_test = x_train.reshape(shape), x_test.reshape(shape)
    elif flatten:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    if x_val is not None:
        x_val = x_val.reshape(len(x_val), -1) if flatten else x_val
    n_classes = int(max(t_train.max(), t_test.max(), -1 if t_val is None else t_val.max())) + 1
    if validation and x_val is None:
        n_val = int(round(validation * len(x_train))) if validation < 1 else int(validation)
        order = np.random.default_rng(split_seed).permutation(len(x_train))
        x_train, t_train = x_train[order], t_train[order]
        x_val, t_val = x_train[:n_val], t_train[:n_val]
        x_train, t_train = x_train[n_val:], t_train[n_val:]
    if one_hot_labels:
        t_train, t_test = one_hot(t_train, n_classes, dtype), one_hot(t_test, n_classes, dtype)
        if t_val is not None:
            t_val = one_hot(t_val, n_classes, dtype)
    return Dataset(name, x_train, t_train, x_test, t_test, n_classes, x_val, t_val)


__all__ = ["Dataset", "DatasetError", "NAMES", "fingerprint", "load", "one_hot", "read_idx", "write_idx"]

"""Small datasets generated or shipped by scikit-learn: digits, moons, XOR. Each returns
(x_train, t_train, x_test, t_test) with integer labels."""

import hashlib
import json
from importlib.metadata import version

import numpy as np

from nncore.atomic import atomic_path
from nncore.datasets.mnist import cache_dir

PARTS = ("x_train", "t_train", "x_test", "t_test")


def cached(name, make, **params):
    """make(**params), kept in the user cache as .npz keyed by the parameters and scikit-learn's
    version: importing scikit-learn takes seconds, and every worker process of a run would pay it.
    The file is <data set's cache>/generated/<24 hex digits of the key's SHA-256>.npz."""
    key = json.dumps([name, params, version("scikit-learn")], sort_keys=True)
    path = cache_dir(name) / "generated" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"
    try:
        with np.load(path) as stored:
            return tuple(stored[p] for p in PARTS)
    except (OSError, ValueError, KeyError):  # absent or damaged: make it again
        pass
    arrays = make(**params)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **dict(zip(PARTS, arrays)))
    except OSError:  # an unwritable cache: the arrays in memory will do
        pass
    return arrays


def digits():
    """scikit-learn's 8x8 digits (1797 images, pixels 0..16); the first 300 are the test set."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x, t = data.images.astype(np.float64), data.target.astype(np.int64)
    return x[300:], t[300:], x[:300], t[:300]


def moons(n=200, noise=0.2, seed=0):
    """Two interleaved half circles (scikit-learn make_moons) and a held-out set of as many points,
    drawn the same way with the next seed."""
    from sklearn.datasets import make_moons

    x, t = make_moons(n, noise=noise, random_state=seed)
    xt, tt = make_moons(n, noise=noise, random_state=seed + 1)
    return x, t.astype(np.int64), xt, tt.astype(np.int64)


def xor():
    """The four XOR points; the test set is the same four."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    t = np.array([0, 1, 1, 0], dtype=np.int64)
    return x, t, x.copy(), t.copy()

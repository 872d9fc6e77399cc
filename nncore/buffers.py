"""Reusable scratch arrays, so a training step allocates nothing once warm."""

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def column_sums(n, dtype):
    """A read-only vector of n ones: `column_sums(n) @ a` sums a's rows with one BLAS gemv,
    several times faster than `a.sum(axis=0)` at the sizes of a training step."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


@lru_cache(maxsize=64)
def column_means(n, dtype):
    """A read-only vector of n entries 1/n: `column_means(n) @ a` averages a's rows."""
    w = np.full(n, 1.0 / n, dtype=dtype)
    w.flags.writeable = False
    return w


class Buffers:
    """Arrays cached by (name, shape, dtype): `get` returns the same array on every call."""

    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype, zeros=False):
        """The cached array; `zeros` fills it with 0 when it is first made (for optimizer state)."""
        key = (name, shape, dtype)
        array = self._arrays.get(key)
        if array is None:
            array = self._arrays[key] = (np.zeros if zeros else np.empty)(shape, dtype=dtype)
        return array

    def clear(self):
        self._arrays.clear()

"""Helpers the engine's tests share: the gradient check's tolerance."""

import numpy as np

TOL = 1e-6


def assert_small(errors):
    """Every error finite and below TOL: max() alone lets a NaN through (max([1e-9, nan]) is 1e-9)."""
    assert all(np.isfinite(e) and e < TOL for e in errors.values()), errors

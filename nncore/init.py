"""Weight initializations, named as the book names them."""

import numpy as np


def init_weights(kind, fan_in, fan_out, rng, dtype=np.float64):
    """A (fan_in, fan_out) weight matrix.

    kind: "he" (std sqrt(2/fan_in)), "xavier" (std sqrt(1/fan_in)), "normal" (standard normal),
    ("uniform", a) for U(-a, a), or a number: a fixed std.
    """
    shape = (fan_in, fan_out)
    if isinstance(kind, (tuple, list)) and len(kind) == 2 and kind[0] == "uniform":
        a = float(kind[1])
        return rng.uniform(-a, a, size=shape).astype(dtype, copy=False)
    if isinstance(kind, str):
        stds = {"he": np.sqrt(2.0 / fan_in), "xavier": np.sqrt(1.0 / fan_in), "normal": 1.0}
        if kind not in stds:
            raise ValueError(f"unknown init {kind!r}: use he, xavier, normal, ('uniform', a) or a std")
        std = stds[kind]
    else:
        std = float(kind)
    return (std * rng.standard_normal(shape)).astype(dtype, copy=False)


def init_bias(kind, size, rng, dtype=np.float64):
    """A bias vector: a constant (0 by default) or "normal" for standard normal."""
    if kind == "normal":
        return rng.standard_normal(size).astype(dtype, copy=False)
    return np.full(size, float(kind), dtype=dtype)

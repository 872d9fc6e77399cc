"""Weights files read without running their code.

A pickle can call any function while it is read, so a weights file from elsewhere is unpickled by an
Unpickler that admits only what a dict of NumPy arrays needs (the book's `sample_weight.pkl` is one);
`.npz` files are read with allow_pickle=False.
"""

import pickle
from pathlib import Path

import numpy as np

# What pickling a dict of arrays refers to, under NumPy 1's and NumPy 2's module names.
_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
            *((m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar"))}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a file of arrays never needs")
        return super().find_class(module, name)


def load_weights(path):
    """{name: array} from a pickled dict of arrays or an .npz file; ValueError (naming the file and
    what is wrong) for anything else, including a pickle that would run code."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                weights = {k: npz[k] for k in npz.files}
        else:
            with open(path, "rb") as f:
                weights = _ArraysOnly(f).load()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, TypeError) as e:
        raise ValueError(f"cannot read weights file {path}: {e}") from None
    if not isinstance(weights, dict) or not all(isinstance(v, np.ndarray) for v in weights.values()):
        raise ValueError(f"cannot read weights file {path}: it holds no dict of arrays")
    return weights

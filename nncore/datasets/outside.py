"""Data sets from outside nnbench: `npz:PATH` (arrays x_train, t_train, x_test, t_test, optionally
x_val, t_val), `idx:DIR` (the four IDX files under any of the names MNIST uses), or a name an installed
package registers in the entry-point group `nnbench.datasets` (a function returning the same arrays,
as a dict or a tuple). Everything is checked when it is loaded, with one line naming what is wrong."""

import hashlib
from importlib import metadata
from pathlib import Path

import numpy as np

from nncore.datasets.errors import DatasetError

DATASET_GROUP = "nnbench.datasets"
PREFIXES = ("npz:", "idx:")
PARTS = ("x_train", "t_train", "x_test", "t_test")
MAX_CLASSES = 10_000


def registered():
    return {ep.name: ep for ep in metadata.entry_points(group=DATASET_GROUP)}


def is_outside(name):
    return isinstance(name, str) and (name.startswith(PREFIXES) or name in registered())


def normalized(name):
    """npz:/idx: paths made absolute, so every process (and every cell id) names the same file."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return prefix + str(Path(name[len(prefix):]).expanduser().resolve())
    return name


def load_arrays(name):
    """{x_train, t_train, x_test, t_test[, x_val, t_val]} of an outside data set, checked."""
    if name.startswith("npz:"):
        path = Path(name[4:])
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError) as e:
            raise DatasetError(f"{path}: cannot read it as .npz ({e}); save the arrays with numpy.savez") from None
    elif name.startswith("idx:"):
        from nncore.datasets.mnist import FILES, _find, read_idx

        folder = Path(name[4:])
        paths = [_find(folder, f) for f in FILES]
        if not all(paths):
            missing = [f for f, p in zip(FILES, paths) if p is None]
            raise DatasetError(f"{folder}: no {', '.join(missing)} (compressed or not); idx:DIR needs the four files "
                               "under MNIST's names")
        arrays = {"x_train": read_idx(paths[0]), "t_train": read_idx(paths[1], expect_ndim=1),
                  "x_test": read_idx(paths[2]), "t_test": read_idx(paths[3], expect_ndim=1)}
    else:
        ep = registered()[name]
        try:
            out = ep.load()()
        except Exception as e:  # a plugin's own failure, said in one line
            raise DatasetError(f"data set {name!r} (entry point {ep.value}) failed: {type(e).__name__}: {e}") from None
        arrays = dict(out) if isinstance(out, dict) else dict(zip(PARTS + ("x_val", "t_val"), out))
    check(name, arrays)
    return arrays


def check(name, arrays):
    """Shapes, dtypes, label ranges and sizes, before any cell uses them."""
    missing = [p for p in PARTS if p not in arrays]
    if missing:
        raise DatasetError(f"{name}: no {', '.join(missing)}; a data set needs x_train, t_train, x_test, t_test")
    splits = [("x_train", "t_train"), ("x_test", "t_test")]
    if "x_val" in arrays or "t_val" in arrays:
        splits.append(("x_val", "t_val"))
    width = None
    for xk, tk in splits:
        x, t = np.asarray(arrays.get(xk)), np.asarray(arrays.get(tk))
        if x.ndim < 2 or len(x) == 0:
            raise DatasetError(f"{name}: {xk} has shape {x.shape}; it needs one row per sample (N, features...)")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise DatasetError(f"{name}: {xk} holds {x.dtype}; it needs numbers")
        if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
            raise DatasetError(f"{name}: {tk} has shape {t.shape} and type {t.dtype}; it needs one integer class label "
                               "per sample")
        if len(t) != len(x):
            raise DatasetError(f"{name}: {xk} has {len(x)} samples but {tk} {len(t)} labels")
        if t.min() < 0 or t.max() >= MAX_CLASSES:
            raise DatasetError(f"{name}: {tk} runs from {t.min()} to {t.max()}; labels are classes 0..K-1")
        if not np.isfinite(x).all():
            raise DatasetError(f"{name}: {xk} holds NaN or infinite values")
        features = int(np.prod(x.shape[1:]))
        if width is not None and features != width:
            raise DatasetError(f"{name}: {xk} has {features} features per sample, the training set {width}")
        width = features
        if xk == "x_train" and x.min() == x.max():
            raise DatasetError(f"{name}: every value of {xk} is {x.min()}: nothing to learn from")
    if len(np.unique(arrays["t_train"])) < 2:
        raise DatasetError(f"{name}: t_train has one class only")


def kind(arrays):
    """What an experiment may ask of its data: "points" (2 features), "images" (28x28 = 784), "vectors"."""
    features = int(np.prod(np.asarray(arrays["x_train"]).shape[1:]))
    return "points" if features == 2 else "images" if features == 784 else "vectors"


def digest(name):
    """SHA-256 of what defines an outside data set: the file's bytes, or the arrays' bytes."""
    h = hashlib.sha256()
    if name.startswith(("npz:", "idx:")):
        path = Path(name[4:])
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    else:
        arrays = load_arrays(name)
        for k in sorted(arrays):
            a = np.ascontiguousarray(arrays[k])
            h.update(f"{k} {a.dtype} {a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()

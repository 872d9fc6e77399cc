"""nncore.weights: a weights file holds arrays and runs no code."""

import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest

from nncore.weights import load_weights
from tests.helpers import RunsCode


def test_weights_files_hold_arrays_and_run_no_code(tmp_path):
    weights = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.zeros(3, np.float32)}
    (tmp_path / "w.pkl").write_bytes(pickle.dumps(weights))
    (tmp_path / "o.pkl").write_bytes(pickle.dumps(OrderedDict(weights)))
    np.savez(tmp_path / "w.npz", **weights)
    for name in ("w.pkl", "o.pkl", "w.npz"):
        got = load_weights(tmp_path / name)
        assert list(got) == ["W1", "b1"] and all(np.array_equal(got[k], weights[k]) for k in weights)
        assert got["b1"].dtype == np.float32
    bad = {"code.pkl": pickle.dumps({"W1": RunsCode(tmp_path / "ran")}),
           "list.pkl": pickle.dumps({"W1": [1, 2]}), "array.pkl": pickle.dumps(np.zeros(3)),
           "garbage.pkl": b"not a pickle", "empty.pkl": b"", "objects.npz": None, "none.npz": None}
    np.savez(tmp_path / "objects.npz", W1=np.array([None], dtype=object))
    for name, payload in bad.items():
        if payload is not None:
            (tmp_path / name).write_bytes(payload)
        with pytest.raises(ValueError, match=f"^cannot read weights file {re.escape(str(tmp_path / name))}: ") as e:
            load_weights(tmp_path / name)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"it refers to posix\.system, which a file of arrays never needs$"):
        load_weights(tmp_path / "code.pkl")
    assert not (tmp_path / "ran").exists()
    with pytest.raises(ValueError, match=r": it holds no dict of arrays$"):
        load_weights(tmp_path / "list.pkl")

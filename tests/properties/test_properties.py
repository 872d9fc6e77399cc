"""Property tests: invariants that must hold for any input hypothesis can find."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bench.grid import parse_value, split_values
from nncore.datasets import read_idx, write_idx
from nncore.losses import SoftmaxCrossEntropy

finite = st.floats(-50, 50, allow_nan=False)


@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 5)), elements=finite), st.floats(-100, 100))
def test_softmax_cross_entropy_is_shift_invariant(scores, shift):
    t = np.arange(scores.shape[0]) % scores.shape[1]
    loss = SoftmaxCrossEntropy()
    a = loss.forward(scores, t)
    da = loss.backward().copy()
    b = loss.forward(scores + shift, t)
    assert np.isfinite(a) and a >= 0 and abs(a - b) < 1e-9 * max(1.0, abs(a))
    np.testing.assert_allclose(loss.backward(), da, atol=1e-12)
    np.testing.assert_allclose(da.sum(axis=1), 0, atol=1e-12)  # rows of (y - t) / n sum to zero


@settings(max_examples=30, deadline=None)
@given(arrays(st.sampled_from([np.uint8, np.int16, np.float32]), st.tuples(st.integers(0, 4), st.integers(1, 4))))
def test_idx_round_trip(tmp_path_factory, array):
    path = tmp_path_factory.mktemp("idx") / "a.idx.gz"
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape and np.array_equal(back, array, equal_nan=True)


@given(st.lists(st.one_of(st.integers(-1000, 1000), st.lists(st.integers(0, 500), min_size=1, max_size=4)),
                min_size=1, max_size=5))
def test_override_values_round_trip(values):
    import json

    text = ",".join(json.dumps(v).replace(" ", "") for v in values)
    assert [parse_value(v) for v in split_values(text)] == values

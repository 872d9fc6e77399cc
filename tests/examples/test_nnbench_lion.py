"""The example plugin package examples/nnbench-lion: its optimizer and its data set."""

import sys

from tests.helpers import ROOT


def test_the_example_plugin_package_implements_lion():
    """examples/nnbench-lion against the paper's Algorithm 2, written out for one step."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "examples" / "nnbench-lion"))
    try:
        from nnbench_lion import Lion
    finally:
        sys.path.pop(0)
    p, g1, g2 = np.array([1.0, -2.0, 0.5]), np.array([0.3, -0.1, 0.0]), np.array([-0.2, 0.4, 0.1])
    opt = Lion(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.01)
    params = {"w": p.copy()}
    opt.update(params, {"w": g1})
    opt.update(params, {"w": g2})
    m, q = np.zeros(3), p.copy()
    for g in (g1, g2):
        q = q - 0.1 * (np.sign(0.9 * m + 0.1 * g) + 0.01 * q)
        m = 0.99 * m + 0.01 * g
    np.testing.assert_allclose(params["w"], q, rtol=1e-14)


def test_the_example_plugins_data_set_passes_the_checks():
    from nncore.datasets import outside

    sys.path.insert(0, str(ROOT / "examples" / "nnbench-lion"))
    try:
        from nnbench_lion.data import spirals
    finally:
        sys.path.pop(0)
    arrays = spirals()
    outside.check("spirals", arrays)
    assert outside.kind(arrays) == "points" and arrays["x_train"].shape == (400, 2)
    assert set(arrays["t_train"]) == {0, 1}

"""A small data set for the plugin's example: two interleaved spirals in 2-D (Lang & Witbrock 1988),
which a linear model cannot separate. Registered as `--dataset spirals` in pyproject.toml."""

import numpy as np


def spirals(n=400, noise=0.15, seed=0):
    """{x_train, t_train, x_test, t_test}: n points per class, every other point held out for testing."""
    rng = np.random.default_rng(seed)
    turn = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.c_[turn * np.cos(turn), turn * np.sin(turn)] / (3 * np.pi)
    x = np.r_[arm, -arm] + noise * rng.standard_normal((2 * n, 2))
    t = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
    order = rng.permutation(2 * n)
    x, t = x[order], t[order]
    return {"x_train": x[::2], "t_train": t[::2], "x_test": x[1::2], "t_test": t[1::2]}

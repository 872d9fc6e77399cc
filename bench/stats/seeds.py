"""Statistics over the seeds of one setting. `values` is 2-D: one row per setting, its seeds along the
row, NaN where a setting has fewer seeds (or a seed diverged); every function returns one value per row.

The interval of the mean is Student's t, cut at the metric's declared range. t covers the true mean
in 95% of settings whatever the number of seeds when seed-to-seed variation is roughly normal; cutting
it at the range keeps that coverage (the true mean lies inside the range) and keeps bands of an
accuracy within [0, 1]. A percentile bootstrap, which nnbench used before, is exactly [min, max] at
3 seeds and covers 76% there.
"""

import numpy as np

LEVEL = 0.95
METHOD = "Student-t 95% interval of the mean over seeds"


def _counts(values):
    values = np.atleast_2d(np.asarray(values, dtype=float))
    finite = np.isfinite(values)
    return values, finite, finite.sum(axis=1)


def describe(values):
    """Per row: (mean, sample std, min, max, n) of the finite values; NaN where a row has none (std:
    fewer than two). A row whose values are all equal has that value as its mean and a std of exactly
    0, so a seed-independent metric never shows rounding dust (0.9 x 3 / 3 = 0.9000000000000001)."""
    values, finite, n = _counts(values)
    lo = np.where(finite, values, np.inf).min(axis=1, initial=np.inf)
    hi = np.where(finite, values, -np.inf).max(axis=1, initial=-np.inf)
    some, spread = n > 0, n > 1
    total = np.where(finite, values, 0.0).sum(axis=1)
    mean = np.full(len(values), np.nan)
    mean[some] = total[some] / n[some]
    constant = some & (lo == hi)
    mean[constant] = lo[constant]
    dev = np.where(finite, values - mean[:, None], 0.0)
    std = np.full(len(values), np.nan)
    std[spread] = np.sqrt((dev[spread] ** 2).sum(axis=1) / (n[spread] - 1))
    std[spread & constant] = 0.0
    lo[~some], hi[~some] = np.nan, np.nan
    return mean, std, lo, hi, n


def t_quantile(p, dof):
    """The p-quantile of Student's t with `dof` degrees of freedom (scipy.stats.t.ppf)."""
    from scipy.special import stdtrit

    return stdtrit(dof, p)


def mean_interval(values, level=LEVEL, bounds=None):
    """(low, high) per row: the Student-t interval of the mean at `level`, cut at `bounds` (the
    metric's declared (low, high); None: unbounded). NaN for a row with fewer than two finite values;
    a row without spread gets [value, value]."""
    mean, std, _, _, n = describe(values)
    low, high = np.full(len(mean), np.nan), np.full(len(mean), np.nan)
    two = n > 1
    half = t_quantile(0.5 + level / 2, n[two] - 1) * std[two] / np.sqrt(n[two])
    low[two], high[two] = mean[two] - half, mean[two] + half
    if bounds is not None:
        low[two], high[two] = np.clip(low[two], *bounds), np.clip(high[two], *bounds)
    return low, high

"""Intervals over seeds that never leave a metric's range.

A mean over 2-5 seeds with mean ± t·se overshoots: at n = 2, t = 12.7 and an accuracy band runs far
past 1. nnbench reports the percentile bootstrap of the mean instead: resampled means lie between the
smallest and largest seed, so the interval stays inside whatever range the metric has. With few seeds
it is still only a rough guide, which is why figures draw the seeds themselves below BAND_MIN_SEEDS.

scipy.stats is imported when an interval is computed: worker processes never need it.
"""

import numpy as np

LEVEL = 0.95
N_RESAMPLES = 2000
BAND_MIN_SEEDS = 5  # below this, figures draw every seed (thin lines) instead of a band
METHOD = "percentile bootstrap 95% CI of the mean over seeds"
# Resample this many elements at once at most (rows x resamples x samples): scipy holds a few arrays
# of this size (8 MB each), so a summary of 10,000 settings stays within tens of megabytes.
_CHUNK = 1_000_000


def _mean_of_rows(resampled, axis=-1):
    """The mean over the last axis, each resample's values summed in the same order whatever the other rows:
    scipy's resampled array has the rows innermost, where NumPy's reduction order would depend on them."""
    return np.mean(np.ascontiguousarray(resampled), axis=axis)


def bootstrap_interval(values, level=LEVEL, n_resamples=N_RESAMPLES, seed=0):
    """Percentile-bootstrap interval of each row's mean. `values` is 2-D (rows, samples) with NaN
    where a row has fewer samples; rows with under two values get NaN. Deterministic: the resampling
    is seeded, and each row's values are sorted first so their order does not matter."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    low = np.full(len(values), np.nan)
    high = np.full(len(values), np.nan)
    counts = np.isfinite(values).sum(axis=1)
    for n in np.unique(counts[counts >= 2]):
        rows = np.flatnonzero(counts == n)
        data = np.sort(np.where(np.isfinite(values[rows]), values[rows], np.inf), axis=1)[:, :n]
        spread = data[:, -1] > data[:, 0]
        low[rows[~spread]] = high[rows[~spread]] = data[~spread, 0]  # every seed agrees
        if spread.any():
            from scipy import stats  # a second, often: imported only when there is a spread to resample

            data, rows = data[spread], rows[spread]
            # scipy draws one set of resampling indices for all rows: a slice of the rows, with the same
            # seed, gets exactly its rows' intervals. Slicing bounds the memory (each resample's means of
            # every row are kept) for a grid of thousands of settings.
            step = max(1, _CHUNK // (n_resamples * n))
            for i in range(0, len(data), step):
                part = data[i:i + step]
                res = stats.bootstrap((part,), _mean_of_rows, axis=-1, vectorized=True, method="percentile",
                                      confidence_level=level, n_resamples=n_resamples,
                                      batch=max(1, _CHUNK // (len(part) * n)), rng=np.random.default_rng(seed))
                # Resampled means lie within [min, max]; the clip only removes a last-bit rounding excess.
                low[rows[i:i + step]] = np.maximum(res.confidence_interval.low, part[:, 0])
                high[rows[i:i + step]] = np.minimum(res.confidence_interval.high, part[:, -1])
    return low, high


def t975(dof):
    """The 97.5% quantile of Student's t with `dof` degrees of freedom (equal to scipy.stats.t.ppf)."""
    from scipy.special import stdtrit

    return stdtrit(dof, 0.975)

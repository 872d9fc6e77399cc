"""Confidence intervals of a mean (Student t), with numpy and scipy.special only: no pandas, and
not scipy.stats, whose import alone takes about half a second."""

import numpy as np


def ci95(std, n):
    """Half-width of the 95% confidence interval of a mean (Student t); NaN below two samples."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, t975(np.maximum(n - 1, 1)), np.nan) * np.asarray(std) / np.sqrt(n)


def t975(dof):
    """The 97.5% quantile of Student's t with `dof` degrees of freedom (equal to scipy.stats.t.ppf)."""
    from scipy.special import stdtrit

    return stdtrit(dof, 0.975)

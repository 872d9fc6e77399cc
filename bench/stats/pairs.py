"""Statistics between two runs, per matched (setting, metric), from each side's summary (mean, std, n).

Each row gets one verdict: a regression or an improvement (Welch's test significant after
Benjamini-Hochberg, and a difference beyond the equivalence margin), equivalent (Schuirmann's two
one-sided tests show the difference within ±margin), or inconclusive, with the smallest difference
these seeds could have detected. A metric whose every seed gave the same value on both sides (std
exactly 0, bench.stats.seeds.describe) is not sampled noise: its difference is exact and judged
against the margin directly.
"""

import numpy as np

from bench.stats.seeds import t_quantile

ALPHA = 0.05  # false discovery rate across one comparison's tests (and across its equivalence tests)
POWER = 0.8  # the power at which `detectable` is computed
REGRESSION, IMPROVEMENT, DIFFERENT, EQUIVALENT, INCONCLUSIVE = (
    "regression", "improvement", "different", "equivalent", "inconclusive")
VERDICTS = (REGRESSION, IMPROVEMENT, DIFFERENT, EQUIVALENT, INCONCLUSIVE)


def welch(mean_a, std_a, n_a, mean_b, std_b, n_b):
    """Welch's two-sample test from summary statistics: (difference b - a, its standard error, degrees
    of freedom, two-sided p-value). NaN where a side has fewer than two values. With no spread on
    either side the difference is exact: p is 0 when it is not zero, 1 when it is."""
    from scipy.special import stdtr

    mean_a, mean_b = np.asarray(mean_a, float), np.asarray(mean_b, float)
    va, vb = np.asarray(std_a, float) ** 2 / n_a, np.asarray(std_b, float) ** 2 / n_b
    diff = mean_b - mean_a
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(va + vb)
        dof = (va + vb) ** 2 / (va**2 / (np.asarray(n_a) - 1) + vb**2 / (np.asarray(n_b) - 1))
        p = 2 * stdtr(dof, -np.abs(diff) / se)
    exact = se == 0
    p = np.where(exact, np.where(diff == 0, 1.0, 0.0), p)
    return diff, se, dof, p


def equivalence(diff, se, dof, margin):
    """Schuirmann's two one-sided tests that |b - a| < margin: the larger of the two one-sided
    p-values (small: the difference is shown to lie within ±margin). An exact difference (se 0)
    gives 0 inside the margin and 1 outside."""
    from scipy.special import stdtr

    diff, se, margin = np.asarray(diff, float), np.asarray(se, float), np.asarray(margin, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = stdtr(dof, -(diff + margin) / se)  # H0: diff <= -margin
        upper = stdtr(dof, (diff - margin) / se)  # H0: diff >= +margin
    p = np.fmax(lower, upper)
    p = np.where(np.isnan(lower) | np.isnan(upper), np.nan, p)
    return np.where(se == 0, np.where(np.abs(diff) < margin, 0.0, 1.0), p)


def detectable(se, dof, alpha=ALPHA, power=POWER):
    """The smallest true difference that Welch's test at level `alpha` finds with probability `power`
    given this standard error: (t_(1-alpha/2) + t_power) x se, the usual normal-theory approximation
    with t quantiles. Seeds that detect only large differences make "no flag" weak evidence."""
    return (t_quantile(1 - alpha / 2, dof) + t_quantile(power, dof)) * np.asarray(se, float)


def bh_adjust(p):
    """Benjamini-Hochberg adjusted p-values along the last axis; NaN entries are not tests."""
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    for idx in np.ndindex(p.shape[:-1]):
        row = p[idx]
        tested = np.isfinite(row)
        if tested.any():
            out[idx][tested] = false_discovery_control(row[tested], method="bh")
    return out


def verdicts(diff, p_bh, p_equivalent_bh, margin, goal, alpha=ALPHA):
    """One verdict per row. goal: "max", "min" or None (no better direction: a change is "different")."""
    diff, margin = np.asarray(diff, float), np.asarray(margin, float)
    goal = np.asarray(goal, dtype=object)
    changed = (np.asarray(p_bh) < alpha) & (np.abs(diff) > margin)
    better = np.where(goal == "max", diff > 0, np.where(goal == "min", diff < 0, False))
    worse = np.where(goal == "max", diff < 0, np.where(goal == "min", diff > 0, False))
    out = np.full(len(diff), INCONCLUSIVE, dtype=object)
    out[np.asarray(p_equivalent_bh) < alpha] = EQUIVALENT
    out[changed] = DIFFERENT
    out[changed & better] = IMPROVEMENT
    out[changed & worse] = REGRESSION
    return out

"""Statistics across the problems of a benchmark (Agarwal et al. 2021, "Deep RL at the Edge of the
Statistical Precipice"; Dolan & Moré 2002). `groups` is one array per problem of a method's runs'
scores (runs along the last axis; leading axes, as in a bootstrap's resamples, are kept).

Scores are comparable across problems only after normalisation between fixed anchors (`normalise`).
The headline IQM is taken within each problem and averaged over problems (`problem_iqm`), so every
problem weighs the same however far its scores sit from the others'; rliable's pooled IQM
(`pooled_iqm`) trims across problems and can drop a whole problem, which `trimmed_problems` names.
"""

import math

import numpy as np

from bench.stats.seeds import LEVEL

N_RESAMPLES = 2000
TRIM = 0.25  # the interquartile mean cuts a quarter of the runs from each end


def _check_goal(goal):
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be 'max' or 'min', got {goal!r}")


def normalise(values, chance, reference):
    """A score on one scale for every problem: chance level -> 0, the problem's reference -> 1."""
    return (np.asarray(values, dtype=float) - chance) / (reference - chance)


def iqm(scores):
    """Interquartile mean over the last axis: the mean of the middle 50% (robust to outlying runs,
    less noisy than the median)."""
    from scipy.stats import trim_mean

    return trim_mean(np.asarray(scores, dtype=float), TRIM, axis=-1)


def problem_iqm(groups):
    """Each problem's IQM over its runs, averaged over problems: every problem counts the same."""
    return np.mean([iqm(g) for g in groups], axis=0)


def problem_mean(groups):
    """Each problem's mean score, averaged over problems."""
    return np.mean([np.mean(g, axis=-1) for g in groups], axis=0)


def pooled_iqm(groups):
    """rliable's IQM: the runs of every problem pooled, then a quarter cut from each end."""
    return iqm(np.concatenate(groups, axis=-1))


def trimmed_problems(groups):
    """Indices of the problems whose every run the pooled IQM cuts (scipy's trim_mean cuts
    int(0.25 n) runs from each end; equal scores are cut in the order given)."""
    scores = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    labels = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    cut = int(TRIM * len(scores))
    kept = set(labels[np.argsort(scores, kind="stable")[cut:len(scores) - cut]])
    return [i for i in range(len(groups)) if i not in kept]


def _widen(groups):
    """Each problem's runs with their deviations from its mean widened by sqrt(n/(n-1)): resampled,
    they have the unbiased variance, where the runs themselves give (n-1)/n of it."""
    return [g.mean() + (g - g.mean()) * math.sqrt(len(g) / (len(g) - 1)) if len(g) > 1 else g for g in groups]


def _resample(groups, n_resamples, rng):
    return [g[rng.integers(0, len(g), (n_resamples, len(g)))] for g in groups]


def stratified_interval(groups, statistic=problem_iqm, level=LEVEL, bounds=None, n_resamples=N_RESAMPLES, seed=0):
    """Interval of statistic(groups) (a mean or IQM over problems): statistic +- t x its stratified-
    bootstrap standard error, each problem's runs resampled within the problem. Two corrections make
    it cover `level` with few seeds, where the plain percentile bootstrap falls short: each problem's
    runs are widened (_widen) before resampling, and t takes the Welch-Satterthwaite degrees of
    freedom of the problems' variances. Cut at `bounds`, the scores' range; [value, value] when no problem varies."""
    from scipy.special import stdtrit

    groups = [np.asarray(g, dtype=float) for g in groups]
    estimate = float(statistic(groups))
    var = np.array([g.var(ddof=1) / len(g) if len(g) > 1 else 0.0 for g in groups])
    if not var.any():
        return estimate, estimate
    rng = np.random.default_rng(seed)
    se = float(np.std(statistic(_resample(_widen(groups), n_resamples, rng)), ddof=1))
    dof = var.sum() ** 2 / sum(v**2 / (len(g) - 1) for v, g in zip(var, groups) if v > 0)
    half = float(stdtrit(dof, 0.5 + level / 2)) * se
    low, high = estimate - half, estimate + half
    return (low, high) if bounds is None else (max(low, bounds[0]), min(high, bounds[1]))


def probability_of_improvement(x_groups, y_groups):
    """P(X > Y): the chance that a run of method X scores higher than a run of method Y on the same
    problem (ties count half; the Mann-Whitney U over m*n), averaged over problems."""
    per_problem = []
    for x, y in zip(x_groups, y_groups):
        x, y = np.asarray(x, dtype=float)[..., :, None], np.asarray(y, dtype=float)[..., None, :]
        per_problem.append(np.mean((x > y) + 0.5 * (x == y), axis=(-2, -1)))
    return np.mean(per_problem, axis=0)


def improvement_interval(x_groups, y_groups, level=LEVEL, n_resamples=N_RESAMPLES, seed=0):
    """Percentile interval of P(X > Y) over a stratified bootstrap: both methods' runs widened
    (_widen, without which it falls short of `level` with few seeds) and resampled within each problem."""
    rng = np.random.default_rng(seed)
    x = _resample(_widen([np.asarray(g, dtype=float) for g in x_groups]), n_resamples, rng)
    y = _resample(_widen([np.asarray(g, dtype=float) for g in y_groups]), n_resamples, rng)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(probability_of_improvement(x, y), [tail, 100 - tail])
    return float(low), float(high)


def performance_profile(costs, taus):
    """Dolan-Moré profiles: costs[p, s] is what method s needs on problem p (inf: never got there);
    returns rho[t, s], the fraction of problems on which s needs at most taus[t] times the least any
    method needs (the least is ratio 1, even when it is 0). rho at tau = 1 is how often s is the
    fastest; rho as tau grows, how often it gets there."""
    costs = np.asarray(costs, dtype=float)
    best = costs.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # inf/inf where no method got there, x/0
        ratio = np.where(np.isfinite(costs), np.where(costs == best, 1.0, costs / best), np.inf)
    return np.array([(ratio <= tau).mean(axis=0) for tau in taus])


def expected_best(values, k, goal="max"):
    """The expected best of k trials drawn without replacement from the n trials run: with values
    sorted from worst to best, the i-th (1-based) is the best of k with probability
    C(i-1, k-1) / C(n, k). Unbiased for the best of k fresh trials, and independent of the order the
    trials ran in (Dodge et al. 2019 give the with-replacement estimator, biased for small n)."""
    _check_goal(goal)
    v = np.sort(np.asarray(values, dtype=float))
    if goal == "min":
        v = v[::-1]
    n = len(v)
    if not 1 <= k <= n:
        raise ValueError(f"k must be from 1 to {n}, got {k}")
    weights = np.array([math.comb(i - 1, k - 1) for i in range(1, n + 1)], dtype=float) / math.comb(n, k)
    return float(weights @ v)


def first_reach(steps, values, target, goal="max"):
    """The first step at which `values` reaches `target` (inf: never)."""
    _check_goal(goal)
    values = np.asarray(values, dtype=float)
    reached = values >= target if goal == "max" else values <= target
    hits = np.flatnonzero(reached)
    return float(np.asarray(steps)[hits[0]]) if len(hits) else math.inf

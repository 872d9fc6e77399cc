"""Statistics across problems, for comparing methods on a benchmark of several (Agarwal et al. 2021,
"Deep RL at the Edge of the Statistical Precipice"; Dolan & Moré 2002): the interquartile mean with
stratified-bootstrap intervals, the probability of improvement, performance profiles, and the
expected best of k tuning trials. Inputs are plain arrays; docs/optimizer_benchmark.md explains each."""

import math

import numpy as np
from scipy.stats import trim_mean

from bench.intervals import LEVEL, N_RESAMPLES


def _check_goal(goal):
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be 'max' or 'min', got {goal!r}")


def iqm(scores):
    """Interquartile mean: the mean of the middle 50% of the scores (robust to outlying runs, less
    noisy than the median)."""
    return float(trim_mean(np.asarray(scores, dtype=float), 0.25))


def stratified_bootstrap(groups, statistic=iqm, level=LEVEL, n_resamples=N_RESAMPLES, seed=0):
    """Percentile-bootstrap interval of statistic(all scores) when each group (a problem's runs) is
    resampled with replacement within itself: every resample keeps the problems' proportions. Each
    resampled score is one of the scores, so the interval stays within their range."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(g, dtype=float) for g in groups]
    draws = np.concatenate([g[rng.integers(0, len(g), (n_resamples, len(g)))] for g in groups], axis=1)
    stats = trim_mean(draws, 0.25, axis=1) if statistic is iqm else np.apply_along_axis(statistic, 1, draws)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    every = np.concatenate(groups)  # the clip only removes a last-bit rounding excess
    return float(max(low, every.min())), float(min(high, every.max()))


def probability_of_improvement(x_groups, y_groups):
    """P(X > Y): the chance that a run of method X scores higher than a run of method Y on the same
    problem (ties count half; the Mann-Whitney U over m*n), averaged over problems."""
    per_problem = []
    for x, y in zip(x_groups, y_groups):
        x, y = np.asarray(x, dtype=float)[:, None], np.asarray(y, dtype=float)[None, :]
        per_problem.append(float(np.mean((x > y) + 0.5 * (x == y))))
    return float(np.mean(per_problem))


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
    """The expected best of k trials drawn without replacement from `values` (all the trials run):
    a tuning curve that does not depend on the order the trials happened to run in (Dodge et al. 2019).
    With values sorted from worst to best, the i-th (1-based) is the best of k with probability
    C(i-1, k-1) / C(n, k)."""
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

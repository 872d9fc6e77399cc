"""bench.stats.seeds: the summary's statistics over seeds and the interval every 95% label stands for."""

import numpy as np
import pytest
from scipy import stats

from bench.stats.seeds import describe, mean_interval, t_quantile


def _coverage(draw, truth, n, bounds=None, settings=20000, seed=0):
    values = draw(np.random.default_rng(seed), (settings, n))
    low, high = mean_interval(values, bounds=bounds)
    return np.mean((low <= truth) & (truth <= high))


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_the_95_percent_interval_covers_the_mean_of_normal_seeds_95_percent_of_the_time(n):
    """20,000 simulated settings per n (the binomial standard error of a coverage is 0.15 points)."""
    coverage = _coverage(lambda rng, shape: rng.normal(0.9, 0.03, shape), 0.9, n, bounds=(0.0, 1.0))
    assert abs(coverage - 0.95) <= 0.015


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_the_interval_covers_skewed_accuracies_at_least_92_percent_and_stays_in_range(n):
    """Accuracies drawn from Beta(20, 3): mean 20/23, a long left tail."""
    values = np.random.default_rng(n).beta(20, 3, (20000, n))
    low, high = mean_interval(values, bounds=(0.0, 1.0))
    assert np.mean((low <= 20 / 23) & (20 / 23 <= high)) >= 0.92
    assert low.min() >= 0.0 and high.max() <= 1.0


def test_the_interval_is_students_t_cut_at_the_bounds():
    values = np.array([[0.5, 0.7, 0.9], [0.98, 1.0, 0.99], [0.2, np.nan, 0.4]])
    low, high = mean_interval(values, bounds=(0.0, 1.0))
    ref = stats.t.interval(0.95, 2, loc=0.7, scale=stats.sem([0.5, 0.7, 0.9]))
    assert ref[1] > 1 and (low[0], high[0]) == (pytest.approx(ref[0], rel=1e-12), 1.0)
    assert high[1] == 1.0 and low[1] == pytest.approx(0.99 - stats.t.ppf(0.975, 2) * stats.sem([0.98, 1.0, 0.99]))
    ref = stats.t.interval(0.95, 1, loc=0.3, scale=stats.sem([0.2, 0.4]))  # NaN padding: two seeds
    assert ref[0] < 0 < 1 < ref[1] and (low[2], high[2]) == (0.0, 1.0)
    narrow = mean_interval(values[:1], level=0.5)
    assert low[0] < narrow[0][0] < narrow[1][0] < high[0]
    unbounded = mean_interval(values[1:2])
    assert unbounded[1][0] > 1.0  # no bounds: nothing is cut


def test_too_few_seeds_give_no_interval_and_no_spread_gives_a_point():
    low, high = mean_interval([[0.5, np.nan], [np.nan, np.nan], [0.9, 0.9, 0.9][:2]])
    assert np.isnan(low[:2]).all() and np.isnan(high[:2]).all() and (low[2], high[2]) == (0.9, 0.9)


def test_describe_by_hand_and_a_constant_metric_has_no_rounding_dust():
    mean, std, lo, hi, n = describe([[1.0, 2.0, 6.0], [0.1, 0.1, 0.1], [np.nan, 4.0, np.inf], [np.nan] * 3])
    assert mean[0] == 3.0 and std[0] == pytest.approx(np.std([1, 2, 6], ddof=1)) and (lo[0], hi[0]) == (1.0, 6.0)
    assert np.mean([0.1, 0.1, 0.1]) != 0.1 and np.std([0.1, 0.1, 0.1], ddof=1) > 0  # what NumPy gives
    assert (mean[1], std[1]) == (0.1, 0.0)  # exactly
    assert (mean[2], lo[2], hi[2], n[2]) == (4.0, 4.0, 4.0, 1) and np.isnan(std[2])  # inf is not a value
    assert n[3] == 0 and np.isnan([mean[3], std[3], lo[3], hi[3]]).all()


def test_t_quantile_is_students():
    dof = np.array([1, 2, 4, 30, np.inf])
    assert np.allclose(t_quantile(0.975, dof), stats.t.ppf(0.975, dof), rtol=1e-12, atol=0)
    assert t_quantile(0.975, 1) == pytest.approx(12.7062047, rel=1e-8)

"""bench.aggregate: the statistics across problems, against hand-computed values."""

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from bench.aggregate import (
    expected_best,
    first_reach,
    iqm,
    performance_profile,
    probability_of_improvement,
    stratified_bootstrap,
)


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5  # mean of 3, 4, 5, 6
    assert iqm([0, 0, 0, 1, 1, 1, 1, 100]) == 0.75  # mean of 0, 1, 1, 1: the outlier is cut


def test_probability_of_improvement_counts_pairs_and_ties_half():
    assert probability_of_improvement([[2, 3]], [[1, 2.5]]) == 0.75  # 2>1, 2<2.5, 3>1, 3>2.5
    assert probability_of_improvement([[1, 1]], [[1]]) == 0.5
    assert probability_of_improvement([[1], [5]], [[2], [4]]) == 0.5  # averaged over problems


def test_performance_profile_by_hand():
    costs = [[100, 200, math.inf], [300, 150, 150], [math.inf, math.inf, math.inf]]
    rho = performance_profile(costs, [1, 2, 100])
    np.testing.assert_allclose(rho, [[1 / 3, 1 / 3, 1 / 3], [2 / 3, 2 / 3, 1 / 3], [2 / 3, 2 / 3, 1 / 3]])


def test_performance_profile_of_a_zero_cost_and_of_an_unsolved_problem_warns_of_nothing():
    # A method there at step 0 is the fastest (ratio 1, not 0/0); beside it any other is never within a factor.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rho = performance_profile([[0, 2], [math.inf, math.inf]], [1, 1e6])
    np.testing.assert_array_equal(rho, [[0.5, 0.0], [0.5, 0.0]])


def test_expected_best_equals_enumeration():
    values = [0.1, 0.5, 0.9]
    assert expected_best(values, 2) == pytest.approx((0.5 + 0.9 + 0.9) / 3)
    rng = np.random.default_rng(0)
    v = rng.random(7)
    for k in range(1, 8):
        brute = np.mean([max(c) for c in itertools.combinations(v, k)])
        assert expected_best(v, k) == pytest.approx(brute)
        assert expected_best(v, k, goal="min") == pytest.approx(np.mean([min(c) for c in itertools.combinations(v, k)]))


def test_first_reach():
    assert first_reach([10, 20, 30], [0.5, 0.9, 0.95], 0.9) == 20
    assert first_reach([10, 20], [0.5, 0.6], 0.9) == math.inf
    assert first_reach([10, 20, 30], [0.9, 0.5, 0.3], 0.5, goal="min") == 20  # a loss falling to its target


@pytest.mark.parametrize("call", [lambda g: expected_best([1], 1, goal=g), lambda g: first_reach([1], [1], 1, g)])
def test_a_goal_is_max_or_min_and_nothing_else(call):
    assert call("max") == 1 and call("min") == 1
    with pytest.raises(ValueError, match="goal must be 'max' or 'min', got 'mni'"):
        call("mni")


def test_expected_best_names_the_k_it_refuses():
    with pytest.raises(ValueError, match="^k must be from 1 to 3, got 4$"):
        expected_best([1, 2, 3], 4)
    assert expected_best([3, 1, 2], 3) == 3 and expected_best([3, 1, 2], 3, goal="min") == 1


def test_stratified_bootstrap_stays_in_range_and_keeps_each_problem():
    rng = np.random.default_rng(1)
    groups = [rng.random(5), 0.9 + 0.1 * rng.random(5), np.ones(3)]
    low, high = stratified_bootstrap(groups)
    every = np.concatenate(groups)
    assert every.min() <= low <= iqm(every) <= high <= every.max()
    assert stratified_bootstrap(groups) == (low, high)  # seeded
    # Within each problem every run agrees: a stratified resample is always the same three scores
    # (pooled resampling would mix 0.7s and 0.2s), so the interval is the point.
    assert stratified_bootstrap([[0.7, 0.7], [0.2]]) == (pytest.approx(iqm([0.7, 0.7, 0.2])),) * 2


def test_iqm_trims_a_quarter_from_each_end():
    """Squares of 1..20: the middle half is 6..15 (a 30% trim would keep 7..14: 115.5)."""
    assert iqm([i * i for i in range(1, 21)]) == pytest.approx(sum(i * i for i in range(6, 16)) / 10)  # 118.5


def test_probability_of_improvement_is_averaged_over_problems_not_pooled():
    """Problem 1: X always loses (0); problem 2: always wins (1): 0.5, however many runs each has
    (pooling the runs would give 6 of 8 pairs, 0.75)."""
    assert probability_of_improvement([[1], [5, 5, 5]], [[2], [4]]) == 0.5


def test_stratified_bootstrap_of_one_problem_is_the_95_percent_percentile_bootstrap_of_the_iqm():
    """One group: the ordinary percentile bootstrap, as scipy computes it, of the 25%-trimmed mean, at 95%
    (skewed scores, so a 10% trim or a 90% level would move the bounds well beyond the tolerance)."""
    scores = np.random.default_rng(3).exponential(size=40)
    low, high = stratified_bootstrap([scores], n_resamples=20000)
    ref = stats.bootstrap((scores,), lambda s, axis: stats.trim_mean(s, 0.25, axis=axis), method="percentile",
                          n_resamples=20000, rng=np.random.default_rng(9)).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.02) and high == pytest.approx(ref.high, abs=0.02)


def test_stratified_bootstrap_of_another_statistic_and_of_a_zero_level():
    # Every group constant: every resample is the same six scores, whose median is 2.
    assert stratified_bootstrap([[1, 1, 1], [3, 3, 3]], statistic=np.median) == (2.0, 2.0)
    # A 0% interval is one point: the median of the resampled statistics, from both ends.
    low, high = stratified_bootstrap([np.random.default_rng(2).random(20)], level=0.0)
    assert low == high
    # Another statistic is the one resampled (the max of ten draws of 0..9 is 8 or 9 at the quartiles;
    # their IQM would be near 4.5), and the default seed is 0.
    assert stratified_bootstrap([np.arange(10.0)], statistic=np.max, level=0.5) == (8.0, 9.0)
    groups = [np.random.default_rng(3).random(7), np.random.default_rng(4).random(5)]
    assert stratified_bootstrap(groups) == stratified_bootstrap(groups, seed=0) != stratified_bootstrap(groups, seed=1)
    low, high = stratified_bootstrap([[0.1, 0.5, 0.9, 0.3], [0.2, 0.4]], statistic=np.median, level=0.5)
    assert 0.1 <= low < high <= 0.9

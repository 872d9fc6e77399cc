"""bench.stats.problems: the statistics across problems, against hand-computed values and by simulation."""

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from bench.stats.problems import (
    expected_best,
    first_reach,
    improvement_interval,
    iqm,
    normalise,
    performance_profile,
    pooled_iqm,
    probability_of_improvement,
    problem_iqm,
    problem_mean,
    stratified_interval,
    trimmed_problems,
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


def test_iqm_trims_a_quarter_from_each_end():
    """Squares of 1..20: the middle half is 6..15 (a 30% trim would keep 7..14: 115.5)."""
    assert iqm([i * i for i in range(1, 21)]) == pytest.approx(sum(i * i for i in range(6, 16)) / 10)  # 118.5


def test_probability_of_improvement_is_averaged_over_problems_not_pooled():
    """Problem 1: X always loses (0); problem 2: always wins (1): 0.5, however many runs each has
    (pooling the runs would give 6 of 8 pairs, 0.75)."""
    assert probability_of_improvement([[1], [5, 5, 5]], [[2], [4]]) == 0.5


def test_a_problem_far_above_the_others_still_counts_in_the_headline_iqm():
    """Four problems of five runs, one far above the rest: rliable's pooled IQM trims its five runs
    away (they are exactly the top quarter), the per-problem IQM keeps a quarter of its weight."""
    groups = [[0.60, 0.64, 0.68, 0.72, 0.76], [0.61, 0.65, 0.69, 0.73, 0.77], [0.62, 0.66, 0.70, 0.74, 0.78],
              [0.95, 0.96, 0.97, 0.98, 0.99]]
    assert trimmed_problems(groups) == [3]
    assert pooled_iqm(groups) == pytest.approx(np.mean(sorted(np.concatenate(groups))[5:15]))
    assert problem_iqm(groups) == pytest.approx(np.mean([0.68, 0.69, 0.70, 0.97]))  # each problem's middle three
    raised = [*groups[:3], [g + 0.01 for g in groups[3]]]
    assert pooled_iqm(raised) == pooled_iqm(groups)
    assert problem_iqm(raised) == pytest.approx(problem_iqm(groups) + 0.0025)
    assert problem_mean(groups) == pytest.approx(np.mean([0.68, 0.69, 0.70, 0.97]))
    assert trimmed_problems([[0.1, 0.9], [0.5, 0.5]]) == [0] and trimmed_problems([[0.1, 0.5], [0.4, 0.9]]) == []


def test_statistics_over_problems_keep_a_bootstraps_leading_axis():
    draws = [np.arange(12.0).reshape(3, 4), np.ones((3, 2))]
    np.testing.assert_allclose(problem_mean(draws), [(1.5 + 1) / 2, (5.5 + 1) / 2, (9.5 + 1) / 2])
    np.testing.assert_allclose(problem_iqm(draws), [(1.5 + 1) / 2, (5.5 + 1) / 2, (9.5 + 1) / 2])
    assert iqm(np.arange(8.0).reshape(2, 4)).tolist() == [1.5, 5.5]


def test_normalise_puts_chance_at_0_and_the_reference_at_1():
    np.testing.assert_allclose(normalise([0.1, 0.55, 1.0, 0.9], 0.1, 0.9), [0.0, 0.5625, 1.125, 1.0])


def _coverage(statistic, n, truth_of, trials=300):
    rng = np.random.default_rng(n)
    means, sds = np.array([0.70, 0.80, 0.85, 0.95]), np.array([0.02, 0.01, 0.03, 0.01])
    hits = 0
    for t in range(trials):
        groups = [rng.normal(m, s, n) for m, s in zip(means, sds)]
        low, high = stratified_interval(groups, statistic, n_resamples=500, seed=t)
        hits += low <= truth_of(means) <= high
    return hits / trials


@pytest.mark.parametrize("n", [3, 5, 10])
@pytest.mark.parametrize("statistic", [problem_iqm, problem_mean])
def test_the_interval_across_problems_covers_about_95_percent(statistic, n):
    """Normal runs: the IQM of a symmetric distribution is its mean. 300 simulated benchmarks
    (binomial standard error 1.3 points); the plain percentile bootstrap covers 76-90% here."""
    assert 0.92 <= _coverage(statistic, n, np.mean) <= 0.99


def test_the_interval_across_problems_by_hand():
    assert stratified_interval([[0.7, 0.7], [0.2]], problem_mean) == (pytest.approx(0.45),) * 2  # a point
    groups = [[0.6, 0.7, 0.8], [0.2, 0.3, 0.4, 0.5]]
    low, high = stratified_interval(groups, problem_mean, n_resamples=20000)
    var = np.array([np.var(g, ddof=1) / len(g) for g in groups])
    se = np.sqrt(var.sum()) / 2  # the mean of two problems' means
    dof = var.sum() ** 2 / (var[0] ** 2 / 2 + var[1] ** 2 / 3)
    half = stats.t.ppf(0.975, dof) * se
    assert low == pytest.approx(0.525 - half, abs=0.01) and high == pytest.approx(0.525 + half, abs=0.01)
    assert stratified_interval(groups, problem_mean, bounds=(0.5, 0.55)) == (0.5, 0.55)
    assert stratified_interval(groups) == stratified_interval(groups, seed=0) != stratified_interval(groups, seed=1)


def test_the_interval_of_the_probability_of_improvement():
    rng = np.random.default_rng(5)
    x = [rng.normal(1.0, 1, 5), rng.normal(2.0, 1, 5)]
    y = [rng.normal(0.5, 1, 5), rng.normal(1.5, 1, 5)]
    low, high = improvement_interval(x, y)
    assert 0 <= low < probability_of_improvement(x, y) < high <= 1
    assert improvement_interval([[2, 2]], [[1, 1]]) == (1.0, 1.0)
    hits = 0
    for t in range(300):  # true P(X > Y) = Phi(0.5 / sqrt(2)) on both problems
        x = [rng.normal(1.0, 1, 5), rng.normal(2.0, 1, 5)]
        y = [rng.normal(0.5, 1, 5), rng.normal(1.5, 1, 5)]
        low, high = improvement_interval(x, y, n_resamples=500, seed=t)
        hits += low <= stats.norm.cdf(0.5 / np.sqrt(2)) <= high
    assert hits / 300 >= 0.92


def test_the_improvement_interval_is_the_percentile_interval_of_its_seeded_resamples():
    """Resampled as documented: x's widened runs first, then y's, from one Generator seeded `seed`;
    the interval is the percentiles at (1 - level)/2 and (1 + level)/2 of the resampled P(X > Y)."""
    rng = np.random.default_rng(8)
    x_groups = [rng.normal(1.0, 1, 5), rng.normal(0.0, 1, 4)]
    y_groups = [rng.normal(0.5, 1, 3), rng.normal(0.2, 1, 6)]

    def widened(g):
        return g.mean() + (g - g.mean()) * np.sqrt(len(g) / (len(g) - 1))

    draws = np.random.default_rng(3)
    xs = [widened(g)[draws.integers(0, len(g), (500, len(g)))] for g in x_groups]
    ys = [widened(g)[draws.integers(0, len(g), (500, len(g)))] for g in y_groups]
    resampled = np.mean([np.mean((x[:, :, None] > y[:, None, :]) + 0.5 * (x[:, :, None] == y[:, None, :]), axis=(1, 2))
                         for x, y in zip(xs, ys)], axis=0)
    expected = np.percentile(resampled, [5, 95])
    got = improvement_interval(x_groups, y_groups, level=0.9, n_resamples=500, seed=3)
    assert got == pytest.approx(tuple(expected), rel=1e-12)
    default = improvement_interval(x_groups, y_groups)
    assert default == improvement_interval(x_groups, y_groups, 0.95, 2000, 0) != improvement_interval(
        x_groups, y_groups, seed=1)


def test_the_pooled_iqm_keeps_a_bootstraps_leading_axis():
    draws = [np.array([[0.0, 1.0, 2.0], [4.0, 5.0, 6.0]]), np.array([[3.0], [7.0]])]
    assert pooled_iqm(draws).tolist() == [1.5, 5.5]  # per row: the middle two of four


def test_the_interval_across_problems_is_t_times_the_seeded_bootstraps_standard_error():
    """As documented: each problem's runs widened by sqrt(n/(n-1)) (a single run as it is), resampled
    from one Generator seeded `seed`, the statistic's standard error (ddof 1) times t with the
    Welch-Satterthwaite degrees of freedom of the problems that vary."""
    groups = [np.array([0.6, 0.7, 0.9]), np.array([0.2, 0.5]), np.array([0.4])]
    draws = np.random.default_rng(5)
    widened = [g.mean() + (g - g.mean()) * np.sqrt(len(g) / (len(g) - 1)) if len(g) > 1 else g for g in groups]
    resampled = [w[draws.integers(0, len(w), (300, len(w)))] for w in widened]
    se = np.std(problem_mean(resampled), ddof=1)
    var = np.array([np.var(groups[0], ddof=1) / 3, np.var(groups[1], ddof=1) / 2])
    dof = var.sum() ** 2 / (var[0] ** 2 / 2 + var[1] ** 2 / 1)
    half = stats.t.ppf(0.9, dof) * se
    estimate = problem_mean(groups)
    low, high = stratified_interval(groups, problem_mean, level=0.8, n_resamples=300, seed=5)
    assert (low, high) == (pytest.approx(estimate - half, rel=1e-12), pytest.approx(estimate + half, rel=1e-12))

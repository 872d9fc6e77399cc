"""bench.intervals: the bootstrap interval and Student's t quantile."""


import numpy as np
import pytest
from scipy import stats

from bench.intervals import bootstrap_interval, t975


def test_bootstrap_interval_by_enumeration_for_three_seeds():
    """With three seeds the 27 equally likely resamples have means (a_i + a_j + a_k) / 3: the percentile
    interval lies between their second smallest and second largest, inside [min, max]."""
    values = np.array([0.2, 0.5, 0.9])
    means = np.sort([(values[i] + values[j] + values[k]) / 3 for i in range(3) for j in range(3) for k in range(3)])
    low, high = bootstrap_interval(values[None, :], n_resamples=20000)
    assert means[0] <= low[0] <= means[1] and means[-2] <= high[0] <= means[-1]
    lo_seed, hi_seed = bootstrap_interval(values[None, :], seed=1)
    assert lo_seed[0] >= 0.2 and hi_seed[0] <= 0.9


def test_bootstrap_interval_level_and_rows():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((1, 40))
    wide = bootstrap_interval(values, level=0.99)
    narrow = bootstrap_interval(values, level=0.5)
    assert wide[0][0] < narrow[0][0] < values.mean() < narrow[1][0] < wide[1][0]
    low, high = bootstrap_interval([0.3, 0.6])  # one row, given as a list
    assert (low.tolist(), high.tolist()) == ([0.3], [0.6])
    low, high = bootstrap_interval(np.array([[np.inf, 1.0, 2.0]]))  # a non-finite value is not a seed
    assert (low[0], high[0]) == (1.0, 2.0)


def test_t975_on_known_quantiles():
    assert t975(1) == pytest.approx(12.7062047, rel=1e-8) and t975(4) == pytest.approx(2.7764451, rel=1e-8)
    assert t975(np.inf) == pytest.approx(1.9599640, rel=1e-8)


def test_bootstrap_interval_is_scipys_percentile_interval_and_seeded():
    """The reference: scipy.stats.bootstrap on the row alone, percentile method, the same resamples and seed."""
    rng = np.random.default_rng(4)
    values = rng.random((3, 30))
    low, high = bootstrap_interval(values, n_resamples=500, seed=7)
    for i in range(3):
        ref = stats.bootstrap((np.sort(values[i]),), np.mean, method="percentile", n_resamples=500,
                              rng=np.random.default_rng(7)).confidence_interval
        assert (low[i], high[i]) == pytest.approx((ref.low, ref.high), rel=1e-12)
    again = bootstrap_interval(values)
    assert np.array_equal(again[0], bootstrap_interval(values, seed=0)[0])  # the default seed is 0
    assert not np.array_equal(again[0], bootstrap_interval(values, seed=1)[0])


@pytest.mark.parametrize("n", [10, 300])
def test_a_rows_bootstrap_interval_does_not_depend_on_the_rows_beside_it(n):
    """Bit for bit, alone or among 20 rows (one slice at 10 seeds, two at 300): a summary's interval for a
    setting is the same whatever else the grid holds."""
    values = np.random.default_rng(5).normal(0.9, 0.02, (20, n))
    low, high = bootstrap_interval(values, n_resamples=200)
    alone = [bootstrap_interval(values[i:i + 1], n_resamples=200) for i in range(20)]
    assert low.tolist() == [a[0][0] for a in alone] and high.tolist() == [a[1][0] for a in alone]


def test_bootstrap_interval_sees_a_spread_beyond_the_two_smallest_seeds():
    low, high = bootstrap_interval([[0.5, 0.5, 0.9]])
    assert low[0] == 0.5 and 0.5 < high[0] <= 0.9


def test_bootstrap_interval_stays_within_the_seeds():
    rng = np.random.default_rng(0)
    values = rng.uniform(0.9, 1.0, (200, 2))  # accuracies near 1, two seeds: t would give 0.9 +- 0.6
    low, high = bootstrap_interval(values)
    assert (values.min(1) <= low).all() and (low <= values.mean(1)).all()
    assert (values.mean(1) <= high).all() and (high <= values.max(1)).all()
    # Two seeds: resampled means are a, (a+b)/2 or b, so the 95% interval is exactly [min, max].
    np.testing.assert_allclose(low, values.min(1), rtol=1e-15)
    np.testing.assert_allclose(high, values.max(1), rtol=1e-15)


def test_bootstrap_interval_is_deterministic_and_order_free_and_nan_below_two():
    values = np.array([[0.1, 0.5, 0.3, 0.2, 0.9], [0.2, 0.1, 0.9, 0.5, 0.3], [0.4, np.nan, np.nan, np.nan, np.nan],
                       [0.7, 0.7, 0.7, np.nan, np.nan]])
    low, high = bootstrap_interval(values)
    assert low[0] == low[1] and high[0] == high[1]  # same seeds, other order
    assert np.isnan(low[2]) and np.isnan(high[2])
    assert low[3] == high[3] == 0.7
    again = bootstrap_interval(values)
    np.testing.assert_array_equal(again[0], low)


def test_bootstrap_interval_covers_the_mean_of_a_normal_sample_about_95_percent():
    rng = np.random.default_rng(1)
    low, high = bootstrap_interval(rng.standard_normal((2000, 30)), n_resamples=1000)
    coverage = np.mean((low <= 0) & (0 <= high))
    assert 0.91 < coverage < 0.97  # the percentile bootstrap undercovers slightly at n = 30


def test_intervals_of_many_rows_equal_those_of_each_row_alone():
    """Rows are resampled in slices to bound memory: a row's interval must not depend on its neighbours."""
    from bench.intervals import bootstrap_interval

    rng = np.random.default_rng(3)
    values = rng.random((2500, 3))
    values[::5, 2] = np.nan  # rows with fewer seeds are computed apart
    low, high = bootstrap_interval(values)
    for i in (0, 5, 1234, 2499):
        alone = bootstrap_interval(values[i:i + 1])
        assert (low[i], high[i]) == (alone[0][0], alone[1][0])


def test_t975_is_students_quantile():
    from scipy import stats
    dof = np.array([1, 2, 2.5, 9, 30, 1000])
    assert np.allclose(t975(dof), stats.t.ppf(0.975, dof), rtol=1e-12, atol=0)

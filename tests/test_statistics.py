"""The numbers behind tables and `compare`: intervals inside the metric's range, Welch's test against
scipy's, Benjamini-Hochberg by hand, and a false-alarm rate at or below the nominal level."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.compare import ALPHA, bh_adjust, compare_summaries, flags, metric_range, welch
from bench.intervals import bootstrap_interval
from bench.records import SUMMARY_COLUMNS
from bench.tables import summarize


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


def test_summary_interval_never_leaves_the_metric_range():
    rows = [{"experiment": "x", "cell_id": f"c{s}", "seed": s, "lr": 0.1, "dataset": "d", "step": 0, "epoch": 0.0,
             "metric": "acc", "value": v} for s, v in enumerate([0.99, 1.0])]
    summary = summarize(pd.DataFrame(rows))
    assert list(summary.columns) == ["lr", "dataset", "metric", *SUMMARY_COLUMNS]
    row = summary.iloc[0]
    assert row["ci95_boot_low"] == 0.99 and row["ci95_boot_high"] == 1.0 and row["min"] == 0.99


def test_welch_matches_scipy():
    a, b = [0.50, 0.52, 0.47, 0.55], [0.58, 0.61, 0.57]
    diff, _, _, p = welch(np.mean(a), np.std(a, ddof=1), len(a), np.mean(b), np.std(b, ddof=1), len(b))
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert diff == pytest.approx(np.mean(b) - np.mean(a)) and p == pytest.approx(ref.pvalue, rel=1e-10)


def test_bh_adjust_by_hand():
    # p sorted: 0.01, 0.02, 0.03, 0.5 (m = 4): p*m/rank = 0.04, 0.04, 0.04, 0.5; then the running minimum
    # from the top. A NaN is no test and does not count in m.
    adjusted = bh_adjust([0.03, 0.5, np.nan, 0.01, 0.02])
    np.testing.assert_allclose(adjusted, [0.04, 0.5, np.nan, 0.04, 0.04])


def test_flags_need_an_adjusted_p_and_a_minimum_effect():
    assert list(flags([0.01, 0.01, 0.2], [0.02, 0.001, 0.5], [0.9, 0.9, 0.9], 0.05, 0.01)) == [True, False, False]


def test_metric_ranges():
    assert metric_range("test_acc") == (0, 1) and metric_range("loss")[0] == 0 and metric_range("x") == (-np.inf,
                                                                                                          np.inf)


def simulated_summaries(rng, n_comparisons, settings=6, seeds=3):
    """Two runs of identical settings with different seeds: per comparison, six settings x two metrics."""
    shape = (n_comparisons, settings, 2, seeds)
    truth = np.stack([np.full(settings, 0.3), np.full(settings, 0.9)], axis=-1)[None, :, :, None]
    a = truth + 0.02 * rng.standard_normal(shape)
    b = truth + 0.02 * rng.standard_normal(shape)
    return a, b


@pytest.mark.slow  # 20,000 simulated comparisons
def test_seed_only_differences_raise_false_alarms_at_most_alpha():
    """20,000 simulated comparisons of 12 tests each, with no true difference: uncorrected, about 40% of
    comparisons would flag something; with Benjamini-Hochberg, at most alpha do."""
    rng = np.random.default_rng(2)
    a, b = simulated_summaries(rng, 20_000)
    diff, _, _, p = welch(a.mean(-1), a.std(-1, ddof=1), 3, b.mean(-1), b.std(-1, ddof=1), 3)
    p, diff, mean_a = p.reshape(len(p), -1), diff.reshape(len(p), -1), a.mean(-1).reshape(len(p), -1)
    raw = np.mean((p < ALPHA).any(axis=1))
    alarms = np.mean(flags(bh_adjust(p), diff, mean_a, min_effect=0).any(axis=1))
    assert raw > 0.3  # the problem is real in this setting
    assert alarms <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / len(p))


@pytest.mark.slow  # 400 comparisons through pandas
def test_compare_summaries_false_alarm_rate_end_to_end():
    """The same property through compare_summaries on DataFrames, as `compare` builds them."""
    rng = np.random.default_rng(3)
    a, b = simulated_summaries(rng, 400)

    def frame(x):
        return pd.DataFrame({"lr": np.repeat(np.arange(6) / 10, 2), "metric": ["loss", "acc"] * 6,
                             "mean": x.mean(-1).ravel(), "std": x.std(-1, ddof=1).ravel(), "n": 3, "n_diverged": 0})

    alarms = [compare_summaries(frame(a[i]), frame(b[i]), {"loss": "min", "acc": "max"}).table["significant"].any()
              for i in range(len(a))]
    assert np.mean(alarms) <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / len(a))


def test_compare_matches_runs_that_differ_in_one_setting():
    def frame(lr, optimizers, means):
        return pd.DataFrame({"optimizer": optimizers, "lr": lr, "metric": "acc", "mean": means, "std": 0.01,
                             "n": 5, "n_diverged": 0})

    a = frame(0.01, ["sgd", "adam", "rmsprop"], [0.80, 0.90, 0.85])
    b = frame(0.05, ["sgd", "adam", "momentum"], [0.90, 0.90, 0.88])
    result = compare_summaries(a, b, {"acc": "max"})
    assert result.differs == {"lr": (0.01, 0.05)}
    assert list(result.table["optimizer"]) == ["sgd", "adam"]  # run A's order
    sig = dict(zip(result.table["optimizer"], result.table["significant"]))
    assert sig == {"sgd": True, "adam": False}
    assert list(result.only_a["optimizer"]) == ["rmsprop"] and list(result.only_b["optimizer"]) == ["momentum"]


def test_compare_difference_interval_stays_in_range():
    a = pd.DataFrame({"metric": ["acc"], "mean": [0.5], "std": [0.7], "n": [2], "n_diverged": [0]})
    b = pd.DataFrame({"metric": ["acc"], "mean": [0.6], "std": [0.7], "n": [2], "n_diverged": [0]})
    row = compare_summaries(a, b).table.iloc[0]
    assert row["ci95_welch_low"] == -1 and row["ci95_welch_high"] == 1


def test_compare_a_default_lr_per_optimizer_against_one_lr():
    """optimizer_compare's default run uses each optimizer's own lr; a run with --set lr=0.05 uses one."""
    a = pd.DataFrame({"optimizer": ["sgd", "adam"], "lr": [0.01, 0.001], "metric": "acc", "mean": [0.8, 0.9],
                      "std": 0.01, "n": 3, "n_diverged": 0})
    b = a.assign(lr=0.05, mean=[0.9, 0.9])
    result = compare_summaries(a, b, {"acc": "max"})
    assert result.differs == {"lr": ("0.01, 0.001", 0.05)} and len(result.table) == 2
    assert result.only_a.empty and result.only_b.empty


def test_a_parameter_only_one_run_has_is_shown_beside_the_match():
    a = pd.DataFrame({"optimizer": ["mine"], "metric": "acc", "mean": [0.9], "std": 0.01, "n": 3, "n_diverged": 0})
    b = pd.DataFrame({"optimizer": ["mine", "mine"], "beta": [0.9, 0.99], "metric": "acc", "mean": [0.9, 0.8],
                      "std": 0.01, "n": 3, "n_diverged": 0})
    table = compare_summaries(a, b, {"acc": "max"}).table
    assert list(table["beta (b)"]) == [0.9, 0.99] and list(table["regression"]) == [False, True]


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

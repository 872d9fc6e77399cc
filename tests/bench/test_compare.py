"""bench.compare: Welch's test, Benjamini-Hochberg, flags, and the comparison of two runs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.compare import (
    ALPHA,
    METHOD,
    MIN_EFFECT,
    bh_adjust,
    compare_runs,
    compare_summaries,
    flags,
    format_comparison,
    metric_range,
    resolve,
    welch,
)
from tests.bench.conftest import one_line, stored_run, summary_frame
from tests.toy_experiment import EXPERIMENT as TOY


def test_welch_statistics_by_the_welch_satterthwaite_formula():
    """Welch (1947): se^2 = s_a^2/n_a + s_b^2/n_b, dof = se^4 / sum((s^2/n)^2 / (n - 1)); checked by
    hand on round numbers and against scipy's test from the raw samples."""
    diff, se, dof, p = welch(1.0, 2.0, 4, 3.0, 3.0, 9)  # s^2/n: 1 and 1
    assert (diff, se) == (2.0, np.sqrt(2.0)) and dof == pytest.approx(4 / (1 / 3 + 1 / 8), rel=1e-14)
    assert p == pytest.approx(2 * stats.t.sf(2 / np.sqrt(2), 4 / (1 / 3 + 1 / 8)), rel=1e-12)
    a, b = [0.50, 0.52, 0.47, 0.55, 0.51], [0.58, 0.61, 0.70]
    diff, se, dof, p = welch(np.mean(a), np.std(a, ddof=1), 5, np.mean(b), np.std(b, ddof=1), 3)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert dof == pytest.approx(ref.df, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-12)
    assert diff / se == pytest.approx(ref.statistic, rel=1e-12)
    _, se, dof, p = welch(0.5, 0.0, 3, 0.6, 0.0, 3)
    assert se == 0 and np.isnan(p)  # no spread on either side: no test
    assert np.isnan(welch(0.5, np.nan, 1, 0.6, 0.1, 3)[3])  # one value: no spread to estimate


def test_bh_adjust_row_by_row_and_flags():
    adjusted = bh_adjust([[0.01, 0.04, 0.03], [0.2, np.nan, 0.01]])
    np.testing.assert_allclose(adjusted, [[0.03, 0.04, 0.04], [0.2, np.nan, 0.02]], rtol=1e-14)
    assert np.isnan(bh_adjust([np.nan, np.nan])).all()
    # The boundaries: p exactly alpha is not below it; an effect of exactly min_effect x |mean a| counts.
    assert list(flags([ALPHA, 0.049], [1.0, 1.0], [1.0, 1.0])) == [False, True]
    assert list(flags([0.01, 0.01], [MIN_EFFECT * 2, -MIN_EFFECT * 1.99], [-2.0, 2.0])) == [True, False]
    assert not flags([np.nan], [1.0], [1.0])[0]


def test_metric_range_by_name():
    for name in ("accuracy", "test_acc", "Val_Acc"):
        assert metric_range(name) == (0.0, 1.0)
    for name in ("loss", "cost", "step_s", "images_per_s", "ratio", "error", "max_abs_diff"):
        assert metric_range(name) == (0.0, np.inf)
    assert metric_range("gap") == (-np.inf, np.inf)


def test_compare_summaries_table_by_hand():
    a = summary_frame([0.50, 0.90, 0.10], lr=0.1)
    b = summary_frame([0.60, 0.80, 0.30], n=4, lr=0.1)
    result = compare_summaries(a, b, {"loss": "min", "accuracy": "max"})
    table = result.table
    assert list(table.columns) == ["lr", "metric", "mean_a", "mean_b", "diff", "ci95_welch_low", "ci95_welch_high",
                                   "n_a", "n_b", "p", "p_bh", "significant", "regression"]
    se = np.sqrt(0.01**2 / 5 + 0.01**2 / 4)
    dof = se**4 / ((0.01**2 / 5) ** 2 / 4 + (0.01**2 / 4) ** 2 / 3)
    np.testing.assert_allclose(table["diff"], [0.1, -0.1, 0.2], rtol=1e-12)
    np.testing.assert_allclose(table["ci95_welch_high"] - table["diff"], stats.t.ppf(0.975, dof) * se, rtol=1e-9)
    np.testing.assert_allclose(table["p"], 2 * stats.t.sf(np.abs(table["diff"]) / se, dof), rtol=1e-9)
    assert list(table["n_a"]) == [5] * 3 and list(table["n_b"]) == [4] * 3
    # Worse loss and worse accuracy are regressions; the gap has no direction, so it is only significant.
    assert table["significant"].tolist() == [True, True, True]
    assert table["regression"].tolist() == [True, True, False] and table["regression"].dtype == bool
    assert result.differs == {} and result.only_a.empty and result.only_b.empty


def test_compare_reports_what_differs_and_settings_without_a_partner():
    a = pd.concat([summary_frame([0.5], optimizer="sgd", lr=0.1), summary_frame([0.4], optimizer="adam", lr=0.1)],
                  ignore_index=True)
    b = pd.concat([summary_frame([0.5], optimizer="sgd", lr=0.2), summary_frame([0.4], optimizer="nag", lr=0.2)],
                  ignore_index=True)
    result = compare_summaries(a, b)
    assert result.differs == {"lr": (0.1, 0.2)}
    assert result.table["optimizer"].tolist() == ["sgd"] and not result.table["regression"].any()
    assert result.only_a.to_dict("records") == [{"optimizer": "adam", "metric": "loss"}]
    assert result.only_b.to_dict("records") == [{"optimizer": "nag", "metric": "loss"}]
    text = format_comparison(result)
    assert text.splitlines()[0] == "compared: lr = 0.1 (a) vs 0.2 (b)"
    assert "only in a (no partner, not compared): 1 setting(s)" in text and "adam" in text
    assert "only in b (no partner, not compared): 1 setting(s)" in text and "nag" in text
    assert text.endswith(f"0 significant differences, 0 regressions (b vs a; {METHOD}: FDR 0.05, and |diff| >= "
                         "0.01 x |mean a|)")
    with one_line("the two runs share no parameter setting and metric to compare (matched on optimizer, metric)"):
        compare_summaries(summary_frame([0.5], optimizer="sgd"),
                          summary_frame([0.5], optimizer="sgd").assign(metric="x"))


def test_a_parameter_may_be_named_like_pandas_own_columns():
    """A grid parameter called index or level_0 is matched like any other (pandas names columns so)."""
    a = summary_frame([0.5, 0.9], index=1, level_0=2)
    result = compare_summaries(a, summary_frame([0.6, 0.95], index=1, level_0=2))
    assert result.table[["index", "level_0", "metric"]].values.tolist() == [["1", "2", "loss"], ["1", "2", "accuracy"]]


def test_format_comparison_marks_each_row():
    a = summary_frame([0.50, 0.90, 0.123456])
    b = summary_frame([0.60, 0.95, 0.123457])
    text = format_comparison(compare_summaries(a, b, {"loss": "min", "accuracy": "max"}))
    lines = text.splitlines()
    # pandas' index=False layout: columns right-justified, one space apart, the widest value at the margin
    assert lines[0].startswith("  metric  mean_a") and lines[2].startswith("accuracy     0.9    0.95  0.05")
    assert lines[0].split() == ["metric", "mean_a", "mean_b", "diff", "ci95_welch_low", "ci95_welch_high", "n_a",
                                "n_b", "p", "p_bh", "mark"]
    assert lines[1].split()[0] == "loss" and lines[1].split()[-1] == "REGRESSION"
    assert lines[2].split()[0] == "accuracy" and lines[2].split()[-1] == "*"
    gap = lines[3].split()
    assert gap[:3] == ["gap", "0.1235", "0.1235"] and float(gap[-1]) > 0.05  # four significant digits, no mark
    assert len(lines) == 5 and lines[-1].startswith("2 significant differences, 1 regressions")


def test_format_comparison_lists_each_unmatched_setting_once():
    a = pd.concat([summary_frame([0.5, 0.9], optimizer="sgd"), summary_frame([0.4, 0.8], optimizer="adam")],
                  ignore_index=True)
    b = summary_frame([0.5, 0.9], optimizer="sgd")
    lines = format_comparison(compare_summaries(a, b)).splitlines()
    at = lines.index("only in a (no partner, not compared): 1 setting(s)")  # two metrics, one setting
    assert lines[at + 1:at + 3] == ["optimizer", "     adam"]  # pandas' index=False layout
    assert not any(line.startswith("only in b") for line in lines)
    by_step = compare_summaries(a.assign(step=[1, 2, 1, 2]), b.assign(step=[1, 2]))  # one setting at two steps
    assert "only in a (no partner, not compared): 1 setting(s)" in format_comparison(by_step)
    a = pd.concat([summary_frame([0.5], act="relu"), summary_frame([0.4], act="tanh")], ignore_index=True)
    lines = format_comparison(compare_summaries(a, summary_frame([0.5], act="relu"))).splitlines()
    at = lines.index("only in a (no partner, not compared): 1 setting(s)")
    assert lines[at + 1:at + 3] == [" act", "tanh"]  # pandas' index=False layout: no leading blank


def test_compare_runs_by_path_name_or_latest(tmp_path):
    first = stored_run(tmp_path, "toy", "one", summary_frame([0.5, 0.9], lr=0.1))
    second = stored_run(tmp_path, "toy", "two", summary_frame([0.6, 0.8], lr=0.1))
    assert resolve(str(first)) == first and resolve("toy/one", tmp_path) == first
    assert resolve("toy", tmp_path) == second  # its latest run
    table = compare_runs("toy/one", "toy", tmp_path, {"loss": "min"}).table
    assert table["metric"].tolist() == ["loss", "accuracy"] and table["regression"].tolist() == [True, False]
    assert not compare_runs("toy/one", "toy", tmp_path, alpha=1e-30).table["significant"].any()
    assert not compare_runs("toy/one", "toy", tmp_path, min_effect=1.0).table["significant"].any()
    other = stored_run(tmp_path, "xor", "three", summary_frame([0.5], lr=0.1))
    with one_line(f"{first} is a run of toy and {other} of xor: compare runs of one experiment"):
        compare_runs(str(first), str(other))


def test_compare_needs_a_real_effect_not_only_a_small_p():
    """flags: adjusted p below alpha AND |diff| >= min_effect x |mean a|: a 0.5% change with a tiny spread
    has p near 0 but stays unflagged at the default 1% minimum; a lower minimum or a stricter alpha decide."""
    a, b = summary_frame([100.0], stds=0.01), summary_frame([100.5], stds=0.01)
    table = compare_summaries(a, b, {"loss": "min"}).table
    assert table["p_bh"].iloc[0] < 1e-10 and not table["significant"].iloc[0]
    assert compare_summaries(a, b, {"loss": "min"}, min_effect=0.001).table["regression"].iloc[0]
    assert not compare_summaries(a, b, alpha=1e-30, min_effect=0.001).table["significant"].iloc[0]


def test_compare_keeps_steps_apart_and_labels_one_sided_parameters():
    a = summary_frame([0.5, 0.9]).assign(step=[1, 1], width=8)
    with one_line("the two runs share no parameter setting and metric to compare (matched on metric, step)"):
        compare_summaries(a, summary_frame([0.5, 0.9]).assign(step=[2, 2]))
    table = compare_summaries(a, summary_frame([0.5, 0.9]).assign(step=[1, 1], depth=3)).table
    assert list(table["width (a)"]) == [8, 8] and list(table["depth (b)"]) == [3, 3]


def test_compare_says_nothing_to_numpy_warnings():
    """Settings whose seeds all agree have no spread: no test, and no RuntimeWarning on the user's screen."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare_summaries(summary_frame([0.5, 0.9], stds=0.0), summary_frame([0.6, 0.9], stds=0.0))
        format_comparison(result)
        _, se, dof, p = welch(np.array([0.5, 0.5]), np.zeros(2), np.array([3, 1]), np.array([0.6, 0.5]), np.zeros(2),
                              np.array([3, 1]))  # no spread, and one seed a side: 0/0 twice
    assert result.table["p"].isna().all() and not result.table["significant"].any()
    assert np.isnan(p).all() and (se == 0).all()


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


def summary(means, std, n=5, lr=0.1):
    return pd.DataFrame({"lr": [lr, lr], "metric": ["loss", "accuracy"], "mean": means, "std": std,
                         "ci95_boot_low": np.nan, "ci95_boot_high": np.nan, "min": np.nan, "max": np.nan, "n": n,
                         "n_diverged": 0})


def test_compare_flags_significant_regressions_by_direction():
    a = summary([0.50, 0.90], [0.01, 0.01])
    worse = compare_summaries(a, summary([0.60, 0.80], [0.01, 0.01]), TOY.metrics).table
    assert worse["significant"].all() and worse["regression"].all()
    better = compare_summaries(a, summary([0.40, 0.95], [0.01, 0.01]), TOY.metrics).table
    assert better["significant"].all() and not better["regression"].any()
    noisy = compare_summaries(a, summary([0.51, 0.89], [0.2, 0.2]), TOY.metrics).table
    assert not noisy["significant"].any()
    row = worse.iloc[0]
    assert row["diff"] == pytest.approx(0.1) and row["ci95_welch_low"] < row["diff"] < row["ci95_welch_high"]

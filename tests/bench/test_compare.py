"""bench.compare: matching two runs' settings and giving each matched row its verdict."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.compare import METHOD, compare_runs, compare_summaries, format_comparison, margins, resolve
from bench.records import ACCURACY, LOSS, Metric
from bench.stats.pairs import ALPHA
from tests.bench.conftest import one_line, seed_only_runs, stored_run, summary_frame
from tests.toy_experiment import EXPERIMENT as TOY


def test_compare_summaries_table_by_hand():
    a = summary_frame([0.50, 0.90, 0.10], lr=0.1)
    b = summary_frame([0.60, 0.80, 0.30], n=4, lr=0.1)
    result = compare_summaries(a, b, {"loss": LOSS, "accuracy": ACCURACY})
    table = result.table
    assert list(table.columns) == ["lr", "metric", "mean_a", "mean_b", "diff", "ci95_welch_low", "ci95_welch_high",
                                   "n_a", "n_b", "n_diverged_a", "n_diverged_b", "p", "p_bh", "margin", "p_equivalent",
                                   "detectable", "verdict"]
    se = np.sqrt(0.01**2 / 5 + 0.01**2 / 4)
    dof = se**4 / ((0.01**2 / 5) ** 2 / 4 + (0.01**2 / 4) ** 2 / 3)
    np.testing.assert_allclose(table["diff"], [0.1, -0.1, 0.2], rtol=1e-12)
    np.testing.assert_allclose(table["ci95_welch_high"] - table["diff"], stats.t.ppf(0.975, dof) * se, rtol=1e-9)
    np.testing.assert_allclose(table["p"], 2 * stats.t.sf(np.abs(table["diff"]) / se, dof), rtol=1e-9)
    np.testing.assert_allclose(table["detectable"], (stats.t.ppf(0.975, dof) + stats.t.ppf(0.8, dof)) * se, rtol=1e-9)
    # The loss has no declared margin (1% of a's mean), the accuracy its own, the gap 1% of a's mean.
    np.testing.assert_allclose(table["margin"], [0.005, 0.01, 0.001], rtol=1e-12)
    assert list(table["n_a"]) == [5] * 3 and list(table["n_b"]) == [4] * 3
    strict = compare_summaries(a, b, {"loss": LOSS, "accuracy": ACCURACY}, alpha=0.01).table
    np.testing.assert_allclose(strict["detectable"], (stats.t.ppf(0.995, dof) + stats.t.ppf(0.8, dof)) * se, rtol=1e-9)
    # Worse loss and worse accuracy are regressions; the gap has no direction, so it is only different.
    assert table["verdict"].tolist() == ["regression", "regression", "different"]
    assert result.differs == {} and result.only_a.empty and result.only_b.empty

def test_compare_reports_what_differs_and_settings_without_a_partner():
    a = pd.concat([summary_frame([0.5], optimizer="sgd", lr=0.1), summary_frame([0.4], optimizer="adam", lr=0.1)],
                  ignore_index=True)
    b = pd.concat([summary_frame([0.5], optimizer="sgd", lr=0.2), summary_frame([0.4], optimizer="nag", lr=0.2)],
                  ignore_index=True)
    result = compare_summaries(a, b)
    assert result.differs == {"lr": (0.1, 0.2)}
    assert result.table["optimizer"].tolist() == ["sgd"] and result.table["verdict"].tolist() == ["inconclusive"]
    assert result.only_a.to_dict("records") == [{"optimizer": "adam", "metric": "loss"}]
    assert result.only_b.to_dict("records") == [{"optimizer": "nag", "metric": "loss"}]
    text = format_comparison(result)
    assert text.splitlines()[0] == "compared: lr = 0.1 (a) vs 0.2 (b)"
    assert "only in a (no partner, not compared): 1 setting(s)" in text and "adam" in text
    assert "only in b (no partner, not compared): 1 setting(s)" in text and "nag" in text
    assert text.splitlines()[-1].startswith(f"0 regression, 0 improvement, 0 different, 0 equivalent, 1 inconclusive "
                                            f"(b vs a; {METHOD}, FDR 0.05; ")
    with one_line("the two runs share no parameter setting and metric to compare (matched on optimizer, metric)"):
        compare_summaries(summary_frame([0.5], optimizer="sgd"),
                          summary_frame([0.5], optimizer="sgd").assign(metric="x"))


def test_a_parameter_may_be_named_like_pandas_own_columns():
    """A grid parameter called index or level_0 is matched like any other (pandas names columns so)."""
    a = summary_frame([0.5, 0.9], index=1, level_0=2)
    result = compare_summaries(a, summary_frame([0.6, 0.95], index=1, level_0=2))
    assert result.table[["index", "level_0", "metric"]].values.tolist() == [["1", "2", "loss"], ["1", "2", "accuracy"]]


def test_format_comparison_gives_each_row_its_verdict():
    a = summary_frame([0.50, 0.90, 0.123456])
    b = summary_frame([0.60, 0.95, 0.123457])
    text = format_comparison(compare_summaries(a, b, {"loss": LOSS, "accuracy": ACCURACY}))
    lines = text.splitlines()
    # pandas' index=False layout: columns right-justified, one space apart, the widest value at the margin
    assert lines[0].startswith("  metric  mean_a") and lines[2].startswith("accuracy     0.9    0.95  0.05")
    assert lines[0].split()[-1] == "verdict" and lines[0].split()[:3] == ["metric", "mean_a", "mean_b"]
    assert lines[1].split()[0] == "loss" and lines[1].split()[-1] == "REGRESSION"
    assert lines[2].split()[0] == "accuracy" and lines[2].split()[-1] == "improvement"
    gap = lines[3].split()
    assert gap[:3] == ["gap", "0.1235", "0.1235"] and gap[-1] == "inconclusive"  # four significant digits
    assert len(lines) == 5 and lines[-1].startswith("1 regression, 1 improvement, 0 different, 0 equivalent, 1 incon")

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
    table = compare_runs("toy/one", "toy", tmp_path, {"loss": LOSS}).table
    assert table["metric"].tolist() == ["loss", "accuracy"] and table["verdict"].tolist() == ["regression", "different"]
    assert compare_runs("toy/one", "toy", tmp_path, alpha=1e-30).table["verdict"].tolist() == ["inconclusive"] * 2
    wide = compare_runs("toy/one", "toy", tmp_path, min_effect=1.0).table  # margins of 0.5 and 0.9
    assert wide["verdict"].tolist() == ["equivalent"] * 2
    wide = compare_runs("toy/one", "toy", tmp_path, margin={"loss": 0.2, "accuracy": 0.05}).table
    assert wide["margin"].tolist() == [0.2, 0.05] and wide["verdict"].tolist() == ["equivalent", "different"]
    old = stored_run(tmp_path, "toy", "old", summary_frame([0.5], lr=0.1).drop(columns=["ci95_low", "ci95_high"]))
    with one_line(f"{old}'s summary was written by an older nnbench: rebuild it with "
                  "`python -m bench report toy --run old`"):
        compare_runs("toy/old", "toy/one", tmp_path)
    other = stored_run(tmp_path, "xor", "three", summary_frame([0.5], lr=0.1))
    with one_line(f"{first} is a run of toy and {other} of xor: compare runs of one experiment"):
        compare_runs(str(first), str(other))


def test_a_change_within_the_margin_is_equivalent_not_a_regression():
    """A 0.5% change with a tiny spread has p near 0, but lies within the default margin (1% of a's mean):
    equivalent. A narrower margin makes it a regression; a stricter alpha, with that margin, inconclusive."""
    a, b = summary_frame([100.0], stds=0.01), summary_frame([100.5], stds=0.01)
    table = compare_summaries(a, b, {"loss": LOSS}).table
    assert table["p_bh"].iloc[0] < 1e-10 and table["verdict"].iloc[0] == "equivalent"
    assert compare_summaries(a, b, {"loss": LOSS}, min_effect=0.001).table["verdict"].iloc[0] == "regression"
    assert compare_summaries(a, b, {"loss": LOSS}, margin={"loss": 0.1}).table["verdict"].iloc[0] == "regression"
    strict = compare_summaries(a, b, {"loss": LOSS}, alpha=1e-30, min_effect=0.001).table
    assert strict["verdict"].iloc[0] == "inconclusive"

def test_compare_keeps_steps_apart_and_labels_one_sided_parameters():
    a = summary_frame([0.5, 0.9]).assign(step=[1, 1], width=8)
    with one_line("the two runs share no parameter setting and metric to compare (matched on metric, step)"):
        compare_summaries(a, summary_frame([0.5, 0.9]).assign(step=[2, 2]))
    table = compare_summaries(a, summary_frame([0.5, 0.9]).assign(step=[1, 1], depth=3)).table
    assert list(table["width (a)"]) == [8, 8] and list(table["depth (b)"]) == [3, 3]


def test_compare_says_nothing_to_numpy_warnings():
    """Settings whose seeds all agree, or with one seed a side: no RuntimeWarning on the user's screen."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare_summaries(summary_frame([0.5, 0.9], stds=0.0), summary_frame([0.6, 0.9], stds=0.0),
                                   {"loss": LOSS, "accuracy": ACCURACY})
        format_comparison(result)
        one = compare_summaries(summary_frame([0.5], stds=np.nan, n=1), summary_frame([0.6], stds=np.nan, n=1))
    # No spread on either side: the difference is exact, judged against the margin.
    assert result.table["verdict"].tolist() == ["regression", "equivalent"] and result.table["p"].tolist() == [0, 1]
    assert result.table["detectable"].tolist() == [0, 0]  # an exact difference: any would be seen
    assert one.table["verdict"].tolist() == ["inconclusive"] and one.table["p"].isna().all()

@pytest.mark.slow  # 400 comparisons through pandas
def test_compare_summaries_false_alarm_rate_end_to_end():
    """The same property through compare_summaries on DataFrames, as `compare` builds them."""
    rng = np.random.default_rng(3)
    a, b = seed_only_runs(rng, 400)

    def frame(x):
        return pd.DataFrame({"lr": np.repeat(np.arange(6) / 10, 2), "metric": ["loss", "acc"] * 6,
                             "mean": x.mean(-1).ravel(), "std": x.std(-1, ddof=1).ravel(), "n": 3, "n_diverged": 0})

    alarms = [compare_summaries(frame(a[i]), frame(b[i]), {"loss": LOSS, "acc": ACCURACY}, min_effect=0)
              .table["verdict"].isin(["regression", "improvement"]).any() for i in range(len(a))]
    assert np.mean(alarms) <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / len(a))


def test_compare_matches_runs_that_differ_in_one_setting():
    def frame(lr, optimizers, means):
        return pd.DataFrame({"optimizer": optimizers, "lr": lr, "metric": "acc", "mean": means, "std": 0.01,
                             "n": 5, "n_diverged": 0})

    a = frame(0.01, ["sgd", "adam", "rmsprop"], [0.80, 0.90, 0.85])
    b = frame(0.05, ["sgd", "adam", "momentum"], [0.90, 0.90, 0.88])
    result = compare_summaries(a, b, {"acc": ACCURACY})
    assert result.differs == {"lr": (0.01, 0.05)}
    assert list(result.table["optimizer"]) == ["sgd", "adam"]  # run A's order
    verdict = dict(zip(result.table["optimizer"], result.table["verdict"]))
    assert verdict == {"sgd": "improvement", "adam": "inconclusive"}
    assert list(result.only_a["optimizer"]) == ["rmsprop"] and list(result.only_b["optimizer"]) == ["momentum"]


def test_compare_difference_interval_stays_in_range():
    a = pd.DataFrame({"metric": ["acc"], "mean": [0.5], "std": [0.7], "n": [2], "n_diverged": [0]})
    b = pd.DataFrame({"metric": ["acc"], "mean": [0.6], "std": [0.7], "n": [2], "n_diverged": [0]})
    row = compare_summaries(a, b, {"acc": ACCURACY}).table.iloc[0]
    assert row["ci95_welch_low"] == -1 and row["ci95_welch_high"] == 1
    row = compare_summaries(a, b).table.iloc[0]  # a metric without a declared range: nothing cut
    assert row["ci95_welch_low"] < -1 and row["ci95_welch_high"] > 1


def test_compare_a_default_lr_per_optimizer_against_one_lr():
    """optimizer_compare's default run uses each optimizer's own lr; a run with --set lr=0.05 uses one."""
    a = pd.DataFrame({"optimizer": ["sgd", "adam"], "lr": [0.01, 0.001], "metric": "acc", "mean": [0.8, 0.9],
                      "std": 0.01, "n": 3, "n_diverged": 0})
    b = a.assign(lr=0.05, mean=[0.9, 0.9])
    result = compare_summaries(a, b, {"acc": ACCURACY})
    assert result.differs == {"lr": ("0.01, 0.001", 0.05)} and len(result.table) == 2
    assert result.only_a.empty and result.only_b.empty


def test_a_parameter_only_one_run_has_is_shown_beside_the_match():
    a = pd.DataFrame({"optimizer": ["mine"], "metric": "acc", "mean": [0.9], "std": 0.01, "n": 3, "n_diverged": 0})
    b = pd.DataFrame({"optimizer": ["mine", "mine"], "beta": [0.9, 0.99], "metric": "acc", "mean": [0.9, 0.8],
                      "std": 0.01, "n": 3, "n_diverged": 0})
    table = compare_summaries(a, b, {"acc": ACCURACY}).table
    assert list(table["beta (b)"]) == [0.9, 0.99] and list(table["verdict"]) == ["inconclusive", "regression"]


def test_margins_the_users_then_the_declared_then_a_fraction_of_a():
    declared = {"acc": ACCURACY, "loss": LOSS, "t": Metric("min", 0.0, margin=0.5)}
    got = margins(["acc", "loss", "t", "other"], [0.9, -2.0, 3.0, 4.0], declared, 0.01, {"t": 0.25})
    np.testing.assert_allclose(got, [0.01, 0.02, 0.25, 0.04])


def summary(means, std, n=5, lr=0.1, diverged=0):
    return pd.DataFrame({"lr": [lr, lr], "metric": ["loss", "accuracy"], "mean": means, "std": std,
                         "ci95_low": np.nan, "ci95_high": np.nan, "min": np.nan, "max": np.nan, "n": n,
                         "n_diverged": diverged})


def test_compare_calls_regressions_by_direction():
    a = summary([0.50, 0.90], [0.01, 0.01])
    worse = compare_summaries(a, summary([0.60, 0.80], [0.01, 0.01]), TOY.metrics).table
    assert worse["verdict"].tolist() == ["regression", "regression"]
    better = compare_summaries(a, summary([0.40, 0.95], [0.01, 0.01]), TOY.metrics).table
    assert better["verdict"].tolist() == ["improvement", "improvement"]
    noisy = compare_summaries(a, summary([0.51, 0.89], [0.2, 0.2]), TOY.metrics).table
    assert noisy["verdict"].tolist() == ["inconclusive", "inconclusive"]
    assert (noisy["detectable"] > 0.2).all()  # what these seeds could have seen
    row = worse.iloc[0]
    assert row["diff"] == pytest.approx(0.1) and row["ci95_welch_low"] < row["diff"] < row["ci95_welch_high"]
    diverged = compare_summaries(a, summary([0.60, 0.80], [0.01, 0.01], n=3, diverged=2), TOY.metrics).table
    assert diverged["n_b"].tolist() == [3, 3] and diverged["n_diverged_b"].tolist() == [2, 2]


def test_a_four_point_accuracy_drop_with_five_seeds_is_a_regression_and_seed_noise_never_is():
    """The issue's case: SGD trained 4x shorter lost 4 points of test accuracy (0.938 -> 0.896); at
    5 seeds with a seed-to-seed sd of 0.005 that is a regression. Two runs of the same setting with other
    seeds (the same truth, 200 simulated pairs) are equivalent or inconclusive, never a regression."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.938, 0.005, 5), rng.normal(0.896, 0.005, 5)

    def frame(x):
        return summary_frame([0.5, x.mean()], stds=[0.01, x.std(ddof=1)], n=5)

    assert compare_summaries(frame(a), frame(b), TOY_METRICS).table["verdict"].iloc[1] == "regression"
    seen = set()
    for _ in range(200):
        a, b = rng.normal(0.938, 0.005, 5), rng.normal(0.938, 0.005, 5)
        seen.add(compare_summaries(frame(a), frame(b), TOY_METRICS).table["verdict"].iloc[1])
    assert seen <= {"equivalent", "inconclusive"} and "equivalent" in seen


TOY_METRICS = {"loss": LOSS, "accuracy": ACCURACY}

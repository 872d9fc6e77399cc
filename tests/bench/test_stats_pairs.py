"""bench.stats.pairs: Welch, Benjamini-Hochberg, the equivalence test, the detectable difference and
the verdicts, by hand, against scipy and by simulation."""

import numpy as np
import pytest
from scipy import stats

from bench.stats.pairs import (
    ALPHA,
    DIFFERENT,
    EQUIVALENT,
    IMPROVEMENT,
    INCONCLUSIVE,
    REGRESSION,
    bh_adjust,
    detectable,
    equivalence,
    verdicts,
    welch,
)
from tests.bench.conftest import seed_only_runs


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
    assert np.isnan(welch(0.5, np.nan, 1, 0.6, 0.1, 3)[3])  # one value: no spread to estimate


def test_no_spread_on_either_side_is_an_exact_difference_whatever_the_number_of_seeds():
    """All-0.9 against all-0.8: the same verdict at 3 and at 5 seeds (a std of rounding dust once
    decided), and no warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in (3, 5):
            diff, se, dof, p = welch(0.9, 0.0, n, 0.8, 0.0, n)
            assert se == 0 and p == 0.0 and equivalence(diff, se, dof, 0.01) == 1.0
            assert verdicts([diff], bh_adjust([p]), [1.0], [0.01], ["max"]).tolist() == [REGRESSION]
        diff, se, dof, p = welch(0.9, 0.0, 3, 0.9, 0.0, 3)
        assert p == 1.0 and equivalence(diff, se, dof, 0.01) == 0.0
        assert equivalence(0.005, 0.0, np.nan, 0.01) == 0.0  # exact and within the margin


def test_bh_adjust_by_hand():
    # p sorted: 0.01, 0.02, 0.03, 0.5 (m = 4): p*m/rank = 0.04, 0.04, 0.04, 0.5; then the running minimum
    # from the top. A NaN is no test and does not count in m.
    np.testing.assert_allclose(bh_adjust([0.03, 0.5, np.nan, 0.01, 0.02]), [0.04, 0.5, np.nan, 0.04, 0.04])
    adjusted = bh_adjust([[0.01, 0.04, 0.03], [0.2, np.nan, 0.01]])  # row by row
    np.testing.assert_allclose(adjusted, [[0.03, 0.04, 0.04], [0.2, np.nan, 0.02]], rtol=1e-14)
    assert np.isnan(bh_adjust([np.nan, np.nan])).all()


def test_equivalence_is_schuirmanns_two_one_sided_tests():
    a, b = np.array([0.90, 0.91, 0.92, 0.905, 0.915]), np.array([0.905, 0.915, 0.91, 0.9, 0.92])
    diff, se, dof, _ = welch(a.mean(), a.std(ddof=1), 5, b.mean(), b.std(ddof=1), 5)
    p = equivalence(diff, se, dof, 0.02)
    lower = stats.ttest_ind(b + 0.02, a, equal_var=False, alternative="greater").pvalue  # H0: diff <= -0.02
    upper = stats.ttest_ind(b - 0.02, a, equal_var=False, alternative="less").pvalue  # H0: diff >= 0.02
    assert p == pytest.approx(max(lower, upper), rel=1e-10) and p < ALPHA
    assert equivalence(diff, se, dof, 0.001) > 0.4  # a margin narrower than the seeds can resolve
    assert np.isnan(equivalence(0.1, np.nan, np.nan, 0.01))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 where an exact difference sits on the margin's far side
        assert equivalence(-0.01, 0.0, np.nan, 0.01) == 1.0  # exactly at the margin: not within it
        assert equivalence(0.01, 0.0, np.nan, 0.01) == 1.0


def test_the_detectable_difference_is_found_80_percent_of_the_time():
    """Simulated pairs of 5 seeds (sd 0.01) whose true difference is the detectable one: Welch at 5%
    finds it in about 80% of 20,000 trials."""
    rng = np.random.default_rng(0)
    n, sd = 5, 0.01
    se = np.sqrt(2 * sd**2 / n)
    delta = detectable(se, 2 * n - 2)
    a = rng.normal(0.9, sd, (20000, n))
    b = rng.normal(0.9 + delta, sd, (20000, n))
    _, _, _, p = welch(a.mean(1), a.std(1, ddof=1), n, b.mean(1), b.std(1, ddof=1), n)
    assert abs(np.mean(p < ALPHA) - 0.8) < 0.03
    assert delta == pytest.approx((stats.t.ppf(0.975, 8) + stats.t.ppf(0.8, 8)) * se)


def test_verdicts_by_hand():
    diff = [-0.05, 0.05, 0.05, 0.005, -0.005, 0.05, -0.002]
    p_bh = [0.001, 0.001, 0.001, 0.001, 0.3, 0.3, 0.001]
    p_eq = [1.0, 1.0, 1.0, 0.01, 0.01, 0.6, 0.2]
    goal = ["max", "max", None, "max", "min", "min", "max"]
    out = verdicts(diff, p_bh, p_eq, [0.01] * 7, goal)
    assert out.tolist() == [REGRESSION, IMPROVEMENT, DIFFERENT, EQUIVALENT, EQUIVALENT, INCONCLUSIVE, INCONCLUSIVE]
    assert verdicts([0.05], [0.05], [1.0], [0.01], ["min"]).tolist() == [INCONCLUSIVE]  # p at alpha is not below it
    assert verdicts([0.01], [0.001], [1.0], [0.01], ["min"]).tolist() == [INCONCLUSIVE]  # at the margin
    assert verdicts([-0.05, 0.05], [0.001, 0.001], [1.0, 1.0], [0.01, 0.01], ["min", "min"]).tolist() == [
        IMPROVEMENT, REGRESSION]  # lower is better
    assert verdicts([0.0], [1.0], [ALPHA], [0.01], ["max"]).tolist() == [INCONCLUSIVE]  # p at alpha is not below it


@pytest.mark.slow  # 20,000 simulated comparisons
def test_seed_only_differences_raise_false_alarms_at_most_alpha():
    """20,000 simulated comparisons of 12 tests each, with no true difference: uncorrected, about 40% of
    comparisons would flag something; with Benjamini-Hochberg, at most alpha do (margin 0)."""
    a, b = seed_only_runs(np.random.default_rng(2), 20_000)
    diff, _, _, p = welch(a.mean(-1), a.std(-1, ddof=1), 3, b.mean(-1), b.std(-1, ddof=1), 3)
    p, diff = p.reshape(len(p), -1), diff.reshape(len(p), -1)
    assert np.mean((p < ALPHA).any(axis=1)) > 0.3  # the problem is real in this setting
    alarms = np.mean(((bh_adjust(p) < ALPHA) & (diff != 0)).any(axis=1))
    assert alarms <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / len(p))

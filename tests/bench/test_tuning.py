"""bench.tuning: the two stages on a toy whose best setting is known, trials and the best one."""

import math

import numpy as np
import pandas as pd
import pytest

import bench
from bench import registry
from bench.params import Float, Int
from bench.tuning import (
    FINAL,
    STAGE,
    STUDY,
    TRIAL,
    TUNE,
    Range,
    Tuning,
    best_trial,
    final_seeds,
    near_edge,
    sample,
    split_trials,
    tune_groups,
)


def toy_run(params, rng):
    """Validation peaks at x = 0.3; the test metric grows with x, so choosing on it would pick x near 1."""
    rec = bench.Recorder()
    x = params["x"]
    rec.log("val_score", 1 - (x - 0.3) ** 2 + 0.001 * rng.standard_normal(), 1)
    if params[STAGE] == FINAL:
        rec.log("test_score", x, 1)
    return rec


TOY = bench.Experiment(
    name="tuned_toy", description="a tuned toy for the tests", run=toy_run, plot=lambda records: {},
    grid={"arm": [1, 2], "trials": [8]}, datasets=("moons",), seeds=3,
    tuning=Tuning(lambda point: {"x": Range(0.0, 1.0)}, metric="val_score", params=("x",)),
    params={"arm": Int("an arm", 1, 10), "trials": Int("trials", 1, 100), "studies": Int("studies", 1, 5),
            "x": Float("tuned", 0, 1)},
)


def toy(tmp_path, **options):
    # Registered here, not on import: tests/experiments/test_every_experiment.py, collected after this file,
    # makes a case of every experiment registered by then.
    registry.register(TOY)
    lines = []
    result = bench.run("tuned_toy", results_dir=tmp_path, progress=False, jobs=1, log=lines.append, **options)
    return result, lines


def test_final_stage_reruns_the_trial_best_on_validation_with_every_seed(tmp_path):
    result, _ = toy(tmp_path)
    r = result.records
    tune, final = r[r[STAGE] == TUNE], r[r[STAGE] == FINAL]
    assert tune["cell_id"].nunique() == 2 * 8 and set(tune["seed"]) == {0}
    assert "test_score" not in set(tune["metric"])  # nothing of the test set in the tune stage
    for arm in (1, 2):
        trials = tune[(tune["arm"] == arm) & (tune["metric"] == "val_score")]
        best = trials.loc[trials["value"].idxmax()]
        confirmed = final[final["arm"] == arm]
        assert confirmed["cell_id"].nunique() == 3 and sorted(set(confirmed["seed"])) == [0, 1, 2]
        assert set(confirmed[TRIAL]) == {best[TRIAL]} and set(confirmed["x"]) == {best["x"]}
        by_test = trials.loc[trials["x"].idxmax()]  # what choosing on the test metric would have taken
        assert by_test[TRIAL] != best[TRIAL]


def test_resumes_in_either_stage_and_more_trials_run_only_new_cells(tmp_path):
    first, _ = toy(tmp_path)
    cells = tmp_path / "tuned_toy" / "moons" / "cells"
    tune_ids = first.records.loc[first.records[STAGE] == TUNE, "cell_id"].unique()
    final_ids = first.records.loc[first.records[STAGE] == FINAL, "cell_id"].unique()
    # Killed in the tune stage: one trial and every final cell missing.
    for cell_id in [tune_ids[3], *final_ids]:
        for f in cells.glob(f"{cell_id}.*"):
            f.unlink()
    again, lines = toy(tmp_path)
    assert any("(tune stage): 16 cells, 15 already done, running 1" in line for line in lines)
    assert any("(final stage): 6 cells, 0 already done, running 6" in line for line in lines)
    pd.testing.assert_frame_equal(again.summary, first.summary)
    # Killed in the final stage: two final cells missing.
    for cell_id in final_ids[:2]:
        (cells / f"{cell_id}.json").unlink()
    again, lines = toy(tmp_path)
    assert any("(tune stage): 16 cells, 16 already done, running 0" in line for line in lines)
    assert any("(final stage): 6 cells, 4 already done, running 2" in line for line in lines)
    pd.testing.assert_frame_equal(again.summary, first.summary)
    # Four more trials: only those run; the first eight are the same settings.
    more, lines = toy(tmp_path, overrides={"trials": [12]})
    assert any("(tune stage): 24 cells, 16 already done, running 8" in line for line in lines)
    old = first.records[first.records[STAGE] == TUNE].drop_duplicates("cell_id").set_index("cell_id")["x"]
    new = more.records[more.records[STAGE] == TUNE].drop_duplicates("cell_id").set_index("cell_id")["x"]
    assert new.loc[old.index].equals(old)
    assert more.records.loc[more.records[STAGE] == FINAL, "cell_id"].nunique() == 6  # superseded ones dropped
    # A third arm (another optimizer): only its trials and its final cells run; the others' trials stay.
    wider, lines = toy(tmp_path, overrides={"trials": [12], "arm": [1, 2, 3]})
    assert any("(tune stage): 36 cells, 24 already done, running 12" in line for line in lines)
    assert any("(final stage): 9 cells, 6 already done, running 3" in line for line in lines)


def test_trials_are_quasi_random_in_range_and_prefix_stable():
    tuning = Tuning(lambda p: {"lr": Range(1e-4, 1.0, log=True), "m": Range(0.5, 0.99)}, metric="v")
    twenty = sample(tuning, {"optimizer": "momentum"}, 20, root_seed=0)
    assert sample(tuning, {"optimizer": "momentum"}, 30, 0)[:20] == twenty
    assert sample(tuning, {"optimizer": "momentum"}, 20, 1) != twenty  # the root seed matters
    lrs = np.array([t["lr"] for t in twenty])
    assert (1e-4 <= lrs).all() and (lrs <= 1.0).all() and (0.5 <= np.array([t["m"] for t in twenty])).all()
    # Log-uniform and low-discrepancy: each decade of the four holds about a quarter of the trials.
    counts = np.histogram(np.log10(lrs), bins=[-4, -3, -2, -1, 0])[0]
    assert counts.min() >= 4
    assert sample(tuning, {"optimizer": "momentum", "m": 0.9}, 5, 0)[0].keys() == {"lr"}  # a fixed value stays


def test_best_trial_ignores_failed_trials_and_breaks_ties_low():
    tuning = Tuning(lambda p: {}, metric="v")
    assert best_trial(tuning, {0: 0.5, 1: None, 2: math.nan, 3: 0.7, 4: 0.7}) == 3
    assert best_trial(Tuning(lambda p: {}, metric="v", goal="min"), {0: 0.5, 1: 0.2}) == 1
    assert best_trial(tuning, {0: None, 1: math.inf * 0}) is None


def test_each_grid_point_gets_its_own_trials():
    """The sequence is seeded by the point: two optimizers are not tuned on the same settings."""
    tuning = Tuning(lambda point: {"lr": Range(1e-3, 1.0, log=True)}, metric="v")
    adam, sgd = sample(tuning, {"optimizer": "adam"}, 5, 0), sample(tuning, {"optimizer": "sgd"}, 5, 0)
    assert len({t["lr"] for t in adam} | {t["lr"] for t in sgd}) == 10


def curve_run(params, rng):
    """Validation first rises with x, then ends highest at x = 0.3: the last value picks x near 0.3,
    the first would pick the largest x."""
    rec = bench.Recorder()
    x = params["x"]
    rec.log("val_score", x, 1)
    rec.log("val_score", 1 - (x - 0.3) ** 2, 2)
    return rec


CURVE = bench.Experiment(
    name="tuned_curve", description="a tuned toy whose validation curve turns", run=curve_run,
    plot=lambda records: {}, grid={"trials": [8]}, datasets=("moons",), seeds=1,
    tuning=Tuning(lambda point: {"x": Range(0.0, 1.0)}, metric="val_score", params=("x",)),
    params={"trials": Int("trials", 1, 100), "x": Float("tuned", 0, 1)},
)


def test_a_trial_is_scored_by_its_last_validation_value(tmp_path):
    registry.register(CURVE)  # here, not at import: test_every_experiment lists what is registered
    result = bench.run("tuned_curve", results_dir=tmp_path, progress=False, jobs=1, log=lambda line: None)
    r = result.records
    last = r[(r[STAGE] == TUNE) & (r["step"] == 2)]
    chosen = set(r.loc[r[STAGE] == FINAL, "x"])
    assert chosen == {last.loc[last["value"].idxmax(), "x"]} and chosen != {r["x"].max()}


SPACE = Tuning(lambda point: {"lr": Range(1e-3, 1.0, log=True), "momentum": Range(0.5, 0.99)}, metric="v")


def test_trials_are_pinned_across_versions_and_the_order_of_a_points_keys():
    # A run resumed after an upgrade must find the same trial cells: these values are the contract
    # (scrambled Halton, seeded by the SHA-256 of the root seed and the point, 4 significant digits).
    point = {"optimizer": "momentum", "problem": "mlp"}
    expected = [{"lr": 0.02283, "momentum": 0.7631}, {"lr": 0.722, "momentum": 0.9264},
                {"lr": 0.00406, "momentum": 0.5997}]
    assert sample(SPACE, point, 3, 0) == expected
    assert sample(SPACE, {"problem": "mlp", "optimizer": "momentum"}, 3, 0) == expected
    # A value JSON cannot hold (a NumPy integer from a grid) still seeds the point, by its text.
    assert sample(SPACE, {"optimizer": "momentum", "width": np.int64(3)}, 1, 0) == [{"lr": 0.02196, "momentum": 0.7767}]


def test_the_numbers_of_trials_and_studies_are_one_value_each_and_one_by_default():
    assert split_trials({"lr": [0.1, 0.2]}) == ({"lr": [0.1, 0.2]}, 1, 1)
    assert split_trials({"lr": [0.1], "trials": [20], "studies": [3]}) == ({"lr": [0.1]}, 20, 3)
    with pytest.raises(bench.UserError,
                       match=r"^trials takes one value \(the number of trials per searched dimension\), got 2$"):
        split_trials({"trials": [10, 20]})
    with pytest.raises(bench.UserError, match=r"^studies takes one value \(the number of independent tuning "
                                              r"studies\), got 2$"):
        split_trials({"studies": [1, 2]})


def test_trials_scale_with_the_space_and_each_study_has_its_own_trials_and_seeds():
    groups = tune_groups(SPACE, [{"optimizer": "momentum"}, {"optimizer": "sgd", "momentum": 0.9}], 3, 0, 2)
    assert [len(g) for g in groups] == [6, 6, 3, 3]  # 3 per searched dimension: momentum is fixed for sgd
    assert [g[0][STUDY] for g in groups] == [0, 1, 0, 1] and {p[STAGE] for g in groups for p in g} == {TUNE}
    assert [p[TRIAL] for p in groups[1]] == list(range(6))
    assert [{k: p[k] for k in ("lr", "momentum")} for p in groups[0]] == sample(SPACE, {"optimizer": "momentum"}, 6, 0)
    assert {p["lr"] for p in groups[0]}.isdisjoint({p["lr"] for p in groups[1]})  # another sequence
    assert sample(SPACE, {"optimizer": "momentum"}, 3, 0, study=1) == [
        {k: p[k] for k in ("lr", "momentum")} for p in groups[1][:3]]
    assert list(final_seeds(0, 5)) == [0, 1, 2, 3, 4] and list(final_seeds(2, 5)) == [10, 11, 12, 13, 14]


def test_a_chosen_value_near_its_ranges_edge_is_named():
    # lr's range spans three decades (log): 10% of it is 0.3 decades from either end.
    assert near_edge(SPACE, {}, {"lr": 1e-3 * 10 ** 0.29, "momentum": 0.745}) == ["lr"]
    assert near_edge(SPACE, {}, {"lr": 1e-3 * 10 ** 0.31, "momentum": 0.99 - 0.048}) == ["momentum"]
    assert near_edge(SPACE, {}, {"lr": 0.6, "momentum": 0.9}) == ["lr"]  # 0.22 decades below 1
    assert near_edge(SPACE, {}, {"lr": 0.03, "momentum": 0.7}) == []
    assert near_edge(SPACE, {"momentum": 0.5}, {"lr": 0.03, "momentum": 0.5}) == []  # fixed, not searched

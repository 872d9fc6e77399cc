"""The tuned benchmark: the harness's two stages (bench.tuning) on a toy with a known answer, the
statistics across problems (bench.aggregate) against hand-computed values, and optimizer_benchmark
itself: the test set unseen while tuning, and a quick run end to end."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

import bench
from bench import registry
from bench.aggregate import (
    expected_best,
    first_reach,
    iqm,
    performance_profile,
    probability_of_improvement,
    stratified_bootstrap,
)
from bench.params import Float, Int
from bench.tuning import FINAL, STAGE, TRIAL, TUNE, Range, Tuning, best_trial, sample
from experiments import optimizer_benchmark as ob
from experiments._optimizer_benchmark_report import final_runs, normalised, per_problem
from nncore.datasets import Dataset

# -- the harness's two stages, on a toy whose best setting is known ------------------------------------


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
    params={"arm": Int("an arm", 1, 10), "trials": Int("trials", 1, 100), "x": Float("tuned", 0, 1)},
)
registry.register(TOY)


def toy(tmp_path, **options):
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


# -- statistics across problems, against hand-computed values ------------------------------------------


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


# -- optimizer_benchmark --------------------------------------------------------------------------------


class ReadTheTestSet(AssertionError):
    pass


class Poisoned:
    """A test set that raises on any use."""

    def __getattr__(self, name):
        raise ReadTheTestSet(f"the test set was read ({name})")

    def __len__(self):
        raise ReadTheTestSet("the test set was read (len)")

    def __array__(self, *args, **kwargs):
        raise ReadTheTestSet("the test set was read (array)")


def poisoned_moons(problem, dataset, dtype):
    real = ob.problem_data("moons", "moons", dtype)
    return Dataset("moons", real.x_train, real.t_train, Poisoned(), Poisoned(), 2, real.x_val, real.t_val)


def test_tune_stage_never_reads_the_test_set():
    params = {"problem": "moons", "optimizer": "adam", "lr": 0.01, "dataset": "fashion_mnist", "dtype": "float32",
              "budget": 0.2, STAGE: TUNE, TRIAL: 0}
    rec = ob.run(params, np.random.default_rng(0), load=poisoned_moons)
    assert {r[2] for r in rec.rows} == {"loss", "val_acc", "train_seconds"}
    with pytest.raises(ReadTheTestSet):  # the poison works: the final stage reads it
        ob.run({**params, STAGE: FINAL}, np.random.default_rng(0), load=poisoned_moons)


def test_every_optimizer_has_a_space_within_its_arguments():
    from nncore.optimizers import OPTIMIZERS

    for name, space in ob.SPACES.items():
        assert set(space) <= {"lr", *OPTIMIZERS[name].__init__.__code__.co_varnames}
    assert set(ob.SPACES) == set(OPTIMIZERS)


def test_per_problem_table_and_scores_from_fixed_records():
    """Two optimizers on one problem, two seeds: the table's numbers are the records' own."""
    goal = ob.target("mlp", "fashion_mnist")
    rows = []
    # Validation at steps 100 and 200: adam reaches the target at 100 (seed 0) and 200 (seed 1), sgd never.
    for opt, vals, tests in (("sgd", ((-0.05, -0.03), (-0.04, -0.02)), (0.82, 0.84)),
                             ("adam", ((0.01, 0.02), (-0.01, 0.02)), (0.90, 0.88))):
        for seed, (offsets, test) in enumerate(zip(vals, tests)):
            cell = f"{opt}{seed}"
            for step, offset in zip((100, 200), offsets):
                rows += [(cell, seed, opt, FINAL, 1, step, "val_acc", goal + offset),
                         (cell, seed, opt, FINAL, 1, step, "train_seconds", step / 100)]
            rows.append((cell, seed, opt, FINAL, 1, 200, "test_acc", test))
        rows.append((f"{opt}t", 0, opt, TUNE, 1, 200, "val_acc", 0.8))
    records = pd.DataFrame(rows, columns=["cell_id", "seed", "optimizer", STAGE, TRIAL, "step", "metric", "value"])
    records = records.assign(problem="mlp", dataset="fashion_mnist", lr=0.1)
    table = per_problem(records).set_index("optimizer")
    assert table.loc["adam", "test_acc"] == pytest.approx(0.89) and table.loc["sgd", "reached"] == "0/2"
    assert table.loc["adam", "reached"] == "2/2" and table.loc["adam", "median_steps_to_target"] == 150
    assert table.loc["adam", "median_seconds_to_target"] == 1.5
    assert table.loc["adam", "ci95_boot_low"] >= 0.88 and table.loc["adam", "ci95_boot_high"] <= 0.90
    scores = normalised(final_runs(records)).set_index("cell_id")["score"]
    assert scores["adam0"] == pytest.approx((0.90 - 0.1) / 0.9)


def test_quick_run_on_the_small_problems(tmp_path):
    result = bench.run("optimizer_benchmark", quick=True, dataset="fashion_mnist", results_dir=tmp_path,
                       progress=False, overrides={"problem": ["digits", "moons"], "optimizer": ["sgd", "adam"]})
    r = result.records
    assert set(r[STAGE]) == {TUNE, FINAL} and not result.failed
    assert "test_acc" not in set(r.loc[r[STAGE] == TUNE, "metric"])
    assert r.loc[r[STAGE] == FINAL, "cell_id"].nunique() == 2 * 2 * 2  # problems x optimizers x quick seeds
    tables = {p.stem: pd.read_csv(p) for p in (result.path / "tables").glob("*.csv")}
    assert set(tables) == {"per_problem", "aggregate", "improvement"}
    agg = tables["aggregate"]
    assert ((agg["iqm_ci95_low"] <= agg["iqm_score"]) & (agg["iqm_score"] <= agg["iqm_ci95_high"])).all()
    assert (agg["iqm_ci95_high"] <= 1).all()
    assert {f.name for f in (result.path / "figures").glob("*.png")} == {
        "optimizer_benchmark.png", "optimizer_benchmark_tuning.png", "optimizer_benchmark_curves.png"}
    assert result.manifest["headline"].startswith("IQM normalised test score: ")

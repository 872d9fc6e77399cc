"""optimizer_benchmark: the test set unseen while tuning, its tables, and a quick run end to end."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bench
import bench.tables
from bench.tuning import FINAL, STAGE, TRIAL, TUNE
from experiments import optimizer_benchmark as ob
from experiments._optimizer_benchmark_report import aggregate, final_runs, normalised, per_problem, scores
from nncore.datasets import Dataset


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
    import inspect

    from nncore.optimizers import OPTIMIZERS

    for name, space in ob.SPACES.items():  # the signature, not __code__: mutation testing wraps __init__
        assert set(space) <= set(inspect.signature(OPTIMIZERS[name]).parameters)
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
    records = records.assign(problem="mlp", dataset="fashion_mnist", lr=0.1, budget=1.0, study=0)
    table = per_problem(records).set_index("optimizer")
    assert table.loc["adam", "test_acc"] == pytest.approx(0.89) and table.loc["sgd", "reached"] == "0/2"
    assert table.loc["adam", "reached"] == "2/2" and table.loc["adam", "median_steps_to_target"] == 150
    assert table.loc["adam", "median_seconds_to_target"] == 1.5
    half = stats.t.ppf(0.975, 1) * np.std([0.90, 0.88], ddof=1) / np.sqrt(2)
    assert table.loc["adam", "ci95_low"] == pytest.approx(0.89 - half) and table.loc["adam", "ci95_high"] == 1.0
    reference = ob.reference("mlp", "fashion_mnist")
    score = normalised(final_runs(records), "fashion_mnist").set_index("cell_id")["score"]
    assert score["adam0"] == pytest.approx((0.90 - 0.1) / (reference - 0.1))


def _final(rows, problem="digits"):
    """Final-stage records of (optimizer, seed, test accuracy or None for a seed that diverged after
    logging 0.5), one trial each, with their tune-stage trial."""
    out = []
    for opt, seed, test in rows:
        cell = f"{opt}{seed}"
        out += [(cell, seed, opt, FINAL, 0, 10, "val_acc", 0.5), (cell, seed, opt, FINAL, 0, 10, "test_acc",
                                                                  0.5 if test is None else test)]
        if test is None:
            out += [(cell, seed, opt, FINAL, 0, 20, "val_acc", np.nan),
                    (cell, seed, opt, FINAL, 0, 20, "diverged_at", 20)]
        out.append((f"{opt}t", 0, opt, TUNE, 0, 10, "val_acc", 0.5))
    records = pd.DataFrame(out, columns=["cell_id", "seed", "optimizer", STAGE, TRIAL, "step", "metric", "value"])
    return records.drop_duplicates().assign(problem=problem, dataset="digits", lr=0.1, budget=1.0, study=0)


def test_a_diverged_seed_gets_the_same_n_and_the_same_rule_in_every_table():
    """adam's seed 2 logged a test accuracy of 0.5, then diverged: its problem's mean leaves it out and
    counts it (n 2, n_diverged 1), the scores table marks it and scores it at chance, and the aggregate
    counts it as a run scored 0; the run's summary says the same n."""
    records = _final([("sgd", 0, 0.90), ("sgd", 1, 0.92), ("sgd", 2, 0.94),
                      ("adam", 0, 0.96), ("adam", 1, 0.98), ("adam", 2, None)])
    table = per_problem(records).set_index("optimizer")
    assert table.loc["adam", ["n", "n_diverged"]].tolist() == [2, 1] and table.loc["adam", "test_acc"] == 0.97
    assert table.loc["sgd", ["n", "n_diverged"]].tolist() == [3, 0]
    table = scores(records).set_index(["optimizer", "seed"])
    assert table.loc[("adam", 2), "diverged"] and table.loc[("adam", 2), "score"] == 0.0
    assert np.isnan(table.loc[("adam", 2), "test_acc"])
    agg = aggregate(final_runs(records), "digits").set_index("optimizer")
    assert agg.loc["adam", ["runs", "diverged"]].tolist() == [3, 1]
    reference = ob.reference("digits", "digits")
    expected = np.mean([(0.96 - 0.1) / (reference - 0.1), (0.98 - 0.1) / (reference - 0.1), 0.0])
    assert agg.loc["adam", "mean_score"] == pytest.approx(expected)
    summary = bench.tables.summarize(records[records[STAGE] == FINAL].drop(columns=[TRIAL]), ["test_acc"])
    adam = summary[(summary["optimizer"] == "adam") & (summary["metric"] == "test_acc")].iloc[0]
    assert (adam["n"], adam["n_diverged"], adam["mean"]) == (2, 1, pytest.approx(0.97))


def test_aggregate_by_hand_and_a_problem_the_pooled_iqm_drops_is_named():
    """Two problems, four seeds: per-problem IQMs (the middle two of four) averaged; the pooled IQM cuts
    the two lowest and two highest of eight runs, all of moons' here."""
    digits = _final([("adam", s, v) for s, v in enumerate([0.95, 0.96, 0.97, 0.98])])
    moons = _final([("adam", s, v) for s, v in enumerate([0.70, 0.71, 0.99, 0.995])], "moons")
    moons["cell_id"] = "m" + moons["cell_id"]
    agg = aggregate(final_runs(pd.concat([digits, moons], ignore_index=True)), "digits").iloc[0]
    d = (np.array([0.95, 0.96, 0.97, 0.98]) - 0.1) / (ob.reference("digits", "digits") - 0.1)
    m = (np.array([0.70, 0.71, 0.99, 0.995]) - 0.5) / (ob.reference("moons", "moons") - 0.5)
    assert agg["iqm_score"] == pytest.approx((d[1:3].mean() + m[1:3].mean()) / 2)
    assert agg["mean_score"] == pytest.approx((d.mean() + m.mean()) / 2)
    assert agg["mean_digits"] == pytest.approx(d.mean()) and agg["mean_moons"] == pytest.approx(m.mean())
    pooled = np.sort(np.concatenate([d, m]))[2:6].mean()
    assert agg["pooled_iqm"] == pytest.approx(pooled) and agg["pooled_iqm_drops"] == "moons"
    assert agg["iqm_ci95_low"] < agg["iqm_score"] < agg["iqm_ci95_high"]


def test_quick_run_on_the_small_problems(tmp_path):
    result = bench.run("optimizer_benchmark", quick=True, dataset="fashion_mnist", results_dir=tmp_path,
                       progress=False, overrides={"problem": ["digits", "moons"], "optimizer": ["sgd", "adam"]})
    r = result.records
    assert set(r[STAGE]) == {TUNE, FINAL} and not result.failed
    assert "test_acc" not in set(r.loc[r[STAGE] == TUNE, "metric"])
    assert r.loc[r[STAGE] == FINAL, "cell_id"].nunique() == 2 * 2 * 2  # problems x optimizers x quick seeds
    tables = {p.stem: pd.read_csv(p) for p in (result.path / "tables").glob("*.csv")}
    assert set(tables) == {"per_problem", "scores", "aggregate", "improvement"}
    agg = tables["aggregate"]
    assert ((agg["iqm_ci95_low"] <= agg["iqm_score"]) & (agg["iqm_score"] <= agg["iqm_ci95_high"])).all()
    assert len(tables["scores"]) == 8 and set(tables["scores"]["problem"]) == {"digits", "moons"}
    assert (tables["per_problem"]["n"] + tables["per_problem"]["n_diverged"] == 2).all()
    pairs = tables["improvement"]
    assert ((pairs["ci95_low"] <= pairs["p_improvement"]) & (pairs["p_improvement"] <= pairs["ci95_high"])).all()
    assert {f.name for f in (result.path / "figures").glob("*.png")} == {
        "optimizer_benchmark.png", "optimizer_benchmark_tuning.png", "optimizer_benchmark_curves.png"}
    assert result.manifest["headline"].startswith("normalised test score, IQM per problem averaged over problems "
                                                  "(95% interval covers seeds only (one tuning study)): ")


def test_with_several_studies_the_interval_is_over_studies_and_each_study_has_its_row():
    """Two studies of adam on digits, three seeds each: each study is one replication of the whole
    protocol, so the interval is Student's t over the two studies' scores (1 degree of freedom)."""
    first = _final([("adam", s, v) for s, v in enumerate([0.95, 0.96, 0.97])])
    second = _final([("adam", s, v) for s, v in enumerate([0.90, 0.91, 0.93], start=3)]).assign(study=1)
    second["cell_id"] = "b" + second["cell_id"]
    records = pd.concat([first, second], ignore_index=True)
    table = per_problem(records)
    assert table[["study", "n", "n_diverged"]].values.tolist() == [[0, 3, 0], [1, 3, 0]]
    assert table["optimism"].tolist() == pytest.approx([0.0, 0.0])  # tune and final validation: both 0.5
    agg = aggregate(final_runs(records), "digits").iloc[0]
    reference = ob.reference("digits", "digits")
    per_study = [(np.mean(v) - 0.1) / (reference - 0.1) for v in ([0.95, 0.96, 0.97], [0.90, 0.91, 0.93])]
    half = stats.t.ppf(0.975, 1) * np.std(per_study, ddof=1) / np.sqrt(2)
    assert agg["mean_score"] == pytest.approx(np.mean(per_study)) and agg["studies"] == 2 and agg["runs"] == 6
    assert agg["mean_ci95_low"] == pytest.approx(max(np.mean(per_study) - half, -0.1 / (reference - 0.1)))
    assert agg["covers"] == "tuning and seeds (t over 2 studies)"

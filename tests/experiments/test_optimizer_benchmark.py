"""optimizer_benchmark: the test set unseen while tuning, its tables, and a quick run end to end."""

import numpy as np
import pandas as pd
import pytest

import bench
from bench.tuning import FINAL, STAGE, TRIAL, TUNE
from experiments import optimizer_benchmark as ob
from experiments._optimizer_benchmark_report import final_runs, normalised, per_problem
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

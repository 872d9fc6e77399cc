import subprocess
import sys

import numpy as np
import pytest

import bench
from bench.errors import UserError
from bench.grid import expand, parse_overrides, parse_value, resolve_grid, split_values
from bench.intervals import t975
from bench.runner import execute, pool_size
from tests.toy_experiment import EXPERIMENT as TOY


def test_parse_values():
    assert parse_value("0.01") == 0.01 and parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("[100, 100]") == [100, 100] and parse_value("adam") == "adam"
    with pytest.raises(ValueError):
        parse_value("[1,")
    assert split_values("a,[1,2],b") == ["a", "[1,2]", "b"]
    with pytest.raises(ValueError):
        split_values("[1,2")


def test_overrides_checked_against_the_grid():
    assert parse_overrides(["lr=0.01,0.1", "hidden=8"], TOY) == {"lr": [0.01, 0.1], "hidden": [8]}
    with pytest.raises(UserError, match="unknown parameter 'lrr' for toy: valid parameters are lr, hidden"):
        parse_overrides(["lrr=1"], TOY)
    with pytest.raises(UserError, match="malformed override 'lr'"):
        parse_overrides(["lr"], TOY)
    with pytest.raises(UserError, match='bad value for lr: "fast"; lr takes a number > 0'):
        parse_overrides(["lr=fast"], TOY)
    with pytest.raises(UserError, match="mode takes one of ok, fail, diverge"):
        parse_overrides(["mode=explode"], TOY)
    with pytest.raises(UserError, match="bad value for lr"):
        parse_overrides(["lr=[0.1"], TOY)


def test_cells_ids_are_stable_and_distinct():
    grid, dataset, seeds = resolve_grid(TOY)
    cells = expand(TOY, grid, dataset, seeds)
    assert len(cells) == 4 and len({c.cell_id for c in cells}) == 4
    assert [c.cell_id for c in cells] == [c.cell_id for c in expand(TOY, grid, dataset, seeds)]
    # Widening the grid keeps the old cells' ids.
    wide = expand(TOY, {**grid, "lr": [0.1, 0.5, 1.0]}, dataset, seeds)
    assert {c.cell_id for c in cells} < {c.cell_id for c in wide}
    # The root seed is part of a cell's identity.
    assert not {c.cell_id for c in cells} & {c.cell_id for c in expand(TOY, grid, dataset, seeds, root_seed=1)}


def test_quick_and_seed_and_dataset_options():
    grid, dataset, seeds = resolve_grid(TOY, quick=True)
    assert grid["steps"] == [10] and seeds == 1 and dataset == "moons"
    assert resolve_grid(TOY, seeds=5)[2] == 5
    with pytest.raises(UserError, match="toy runs on moons, not 'mnist'"):
        resolve_grid(TOY, dataset="mnist")


def test_recorder_raises_on_non_finite():
    rec = bench.Recorder()
    rec.log("loss", 1.0, 0)
    with pytest.raises(bench.Diverged) as info:
        rec.log("loss", float("inf"), 1)
    assert info.value.step == 1 and len(info.value.records.rows) == 2


def test_pool_size_gives_a_short_grid_one_worker_per_cell():
    # Under two rounds: every cell at once, sharing the cores; otherwise one worker per core.
    assert pool_size(3, 2) == 3 and pool_size(7, 4) == 7
    assert [pool_size(n, 2) for n in (0, 1, 2, 4, 5, 32)] == [1, 1, 2, 2, 2, 2]  # one cell: no pool


def test_t975_is_students_quantile():
    from scipy import stats
    dof = np.array([1, 2, 2.5, 9, 30, 1000])
    assert np.allclose(t975(dof), stats.t.ppf(0.975, dof), rtol=1e-12, atol=0)


def test_start_up_imports_no_pandas_matplotlib_or_scipy():
    # What a run imports before its cells start is time no worker can overlap (and a one-cell run in
    # this process, or one without a progress bar, never needs joblib or tqdm).
    code = ("import sys, bench.cli, bench.cell, experiments.weight_init_compare\n"
            "print(sorted({'pandas', 'matplotlib', 'scipy', 'sklearn', 'joblib', 'tqdm'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_execute_calls_while_waiting_once_and_delivers_every_cell():
    cells = expand(TOY, *resolve_grid(TOY, {"steps": [3]}, None, False, 1))
    calls, done = [], []
    execute(TOY, cells, lambda r: done.append((r.cell.cell_id, r.status["status"])), jobs=2,
            while_waiting=lambda: calls.append(len(done)))
    assert calls == [0]  # before any result was handed over
    assert sorted(done) == sorted((c.cell_id, "ok") for c in cells)


@pytest.mark.parametrize("grid", [{"n": [3]}, {"lr": [0.1], "dataset": ["x"]}, {"metric": ["loss"]}])
def test_a_parameter_may_not_take_a_table_column_name(grid):
    # The summary's n (finite values per setting) once silently replaced a parameter called n.
    with pytest.raises(ValueError, match="would collide with a column of the harness's tables"):
        bench.Experiment(name="x", description="", run=None, plot=None, grid=grid)

"""bench.runner: the worker pool's size and how cells are executed: here in order, or in a pool as each
finishes, with the driver's seed, BLAS threads, pid and data variables; fail-fast; the same records
whatever --jobs is."""

import os
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bench import runner
from bench.cell import CellResult, run_cell
from bench.experiment import Experiment
from bench.grid import Cell, expand, resolve_grid
from bench.records import Recorder
from bench.runner import FailFast, _tabled, execute, pool_size
from bench.tables import CellRows
from tests.bench.test_cell import reference_rng
from tests.toy_experiment import EXPERIMENT as TOY


def test_pool_size_gives_a_short_grid_one_worker_per_cell():
    # Under two rounds: every cell at once, sharing the cores; otherwise one worker per core.
    assert pool_size(3, 2) == 3 and pool_size(7, 4) == 7
    assert [pool_size(n, 2) for n in (0, 1, 2, 4, 5, 32)] == [1, 1, 2, 2, 2, 2]  # one cell: no pool


def test_execute_calls_while_waiting_once_and_delivers_every_cell():
    cells = expand(TOY, *resolve_grid(TOY, {"steps": [3]}, None, False, 1))
    calls, done = [], []
    execute(TOY, cells, lambda r: done.append((r.cell.cell_id, r.status["status"])), jobs=2,
            while_waiting=lambda: calls.append(len(done)))
    assert calls == [0]  # before any result was handed over
    assert sorted(done) == sorted((c.cell_id, "ok") for c in cells)


def report(params, rng):
    """A cell that tells where and how it ran: its first draw, its process, its BLAS threads, the data variables."""
    rec = Recorder()
    rec.log("draw", rng.random(), 0)
    rec.log("pid", os.getpid(), 0)
    rec.log("blas", max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), 0)
    rec.use("hidden", 7)
    rec.save("env", {name: os.environ.get(name) for name in ("NNBENCH_DATA", "XDG_CACHE_HOME")})
    return rec


def gate(params, rng):
    """A cell that waits (at most 20 s) for the file `wait_for` when it names one, then leaves the file `ran`."""
    if params["wait_for"]:
        deadline = time.monotonic() + 20
        while not os.path.exists(params["wait_for"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    if params["ran"]:
        Path(params["ran"]).touch()
    rec = Recorder()
    rec.log("loss", 1.0, 0)
    return rec


def no_figures(records):
    return {}


PROBE = Experiment(name="probe", description="tells how its cells ran", run=report, plot=no_figures, grid={},
                   datasets=("moons",))
ALONE = replace(PROBE, name="probe_alone", run_alone=True)
GATE = Experiment(name="gate", description="cells that wait for a file", run=gate, plot=no_figures, grid={},
                  datasets=("moons",))


def probe_cells(n):
    return [Cell("probe", {"i": i, "hidden": None}, 0, f"{i + 1:016x}") for i in range(n)]


def gate_cells(tmp_path, waiting, ran=False):
    """One cell per entry of `waiting`: those marked True wait for tmp_path/go."""
    return [Cell("gate", {"i": i, "wait_for": str(tmp_path / "go") if wait else None,
                          "ran": str(tmp_path / f"ran-{i}") if ran else None}, 0, f"{i + 1:016x}")
            for i, wait in enumerate(waiting)]


def told(result):
    return dict(zip(result.records.metric, result.records.value))


def run_cell_telling_its_arguments(experiment, cell, root_seed, blas_threads=1, driver_pid=None, data_env=None):
    """bench.cell.run_cell, whose result also carries the arguments it was called with."""
    result = run_cell(experiment, cell, root_seed, blas_threads, driver_pid, data_env)
    result.artifacts = {**result.artifacts, "args": {"root_seed": root_seed, "blas_threads": blas_threads,
                                                     "driver_pid": driver_pid, "data_env": data_env}}
    return result


@pytest.mark.parametrize("n_cells, cores, workers", [
    (0, 1, 1), (1, 1, 1), (2, 1, 1), (3, 1, 1),
    (0, 2, 1), (1, 2, 1), (2, 2, 2), (3, 2, 3), (4, 2, 2), (5, 2, 2), (100, 2, 2),
    (1, 4, 1), (4, 4, 4), (5, 4, 5), (7, 4, 7), (8, 4, 4), (9, 4, 4),
])
def test_pool_size_is_a_worker_per_cell_under_two_rounds_else_one_per_core(n_cells, cores, workers):
    assert pool_size(n_cells, cores) == workers


def test_tabled_puts_a_cells_rows_behind_its_identity_params_and_used_values():
    cell = Cell("probe", {"lr": None, "hidden": 4}, 2, "00000000000000ab")
    result = CellResult(cell, [(0, 0.0, "loss", 2.0), (5, 1.0, "loss", 0.5)], {"status": "ok"}, {}, {"lr": 0.01})
    assert _tabled(result) is result
    rows = result.records
    assert type(rows) is CellRows
    assert rows.lead == {"experiment": "probe", "cell_id": "00000000000000ab", "seed": 2, "lr": 0.01, "hidden": 4}
    assert rows.step.tolist() == [0, 5] and rows.epoch.tolist() == [0.0, 1.0]
    assert rows.metric.tolist() == ["loss", "loss"] and rows.value.tolist() == [2.0, 0.5]


def test_cells_run_here_in_their_order_with_root_seed_0_and_one_blas_thread_by_default():
    cells, got, waited = probe_cells(3), [], []
    with threadpool_limits(limits=3, user_api="blas"):
        execute(PROBE, cells, got.append, while_waiting=lambda: waited.append(1))
    assert [r.cell for r in got] == cells and waited == []
    for r in got:
        assert type(r.records) is CellRows and r.status["status"] == "ok"
        assert r.records.lead == {"experiment": "probe", "cell_id": r.cell.cell_id, "seed": 0, "i": r.cell.params["i"],
                                  "hidden": 7}
        assert told(r) == {"draw": reference_rng(0, r.cell.cell_id).random(), "pid": os.getpid(), "blas": 1}


def test_cells_run_here_with_the_root_seed_and_blas_threads_given():
    cells, got = probe_cells(2), []
    with threadpool_limits(limits=3, user_api="blas"):
        execute(PROBE, cells, got.append, jobs=1, root_seed=5, blas_threads=2)
    assert [r.cell for r in got] == cells
    assert [told(r) for r in got] == [{"draw": reference_rng(5, c.cell_id).random(), "pid": os.getpid(), "blas": 2}
                                      for c in cells]


def test_an_experiment_whose_cells_run_alone_runs_them_here_in_order_whatever_jobs_says():
    cells, got, waited = probe_cells(3), [], []
    execute(ALONE, cells, got.append, jobs=2, while_waiting=lambda: waited.append(1))
    assert [r.cell for r in got] == cells and waited == []
    assert {told(r)["pid"] for r in got} == {os.getpid()}


def test_fail_fast_here_stops_before_the_next_cell():
    ran, got = [], []

    def run(params, rng):
        ran.append(params["i"])
        return [(0, 0.0, "loss", 1.0)]

    def on_result(result):
        got.append(result.cell.params["i"])
        raise FailFast()

    with pytest.raises(FailFast):
        execute(SimpleNamespace(run=run, run_alone=False), probe_cells(3), on_result)
    assert ran == [0] and got == [0]


def test_pooled_cells_run_in_workers_with_the_drivers_seed_threads_pid_and_data_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setattr(runner, "run_cell", run_cell_telling_its_arguments)
    cells, got, waited = probe_cells(4), [], []
    execute(PROBE, cells, got.append, jobs=2, root_seed=5, blas_threads=2,
            while_waiting=lambda: waited.append(len(got)))
    assert waited == [0]
    assert sorted(r.cell.cell_id for r in got) == [c.cell_id for c in cells]
    data_env = {"NNBENCH_DATA": str(tmp_path / "data"), "XDG_CACHE_HOME": None}
    for r in got:
        assert type(r.records) is CellRows and r.records.lead["hidden"] == 7
        values = told(r)
        assert values["draw"] == reference_rng(5, r.cell.cell_id).random() and values["blas"] == 2
        assert values["pid"] != os.getpid()
        assert r.artifacts == {"env": data_env, "args": {"root_seed": 5, "blas_threads": 2, "driver_pid": os.getpid(),
                                                         "data_env": data_env}}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_parallel_config_sends_cells_through_its_backend_without_the_data_variables(monkeypatch, jobs):
    monkeypatch.setattr(runner, "run_cell", run_cell_telling_its_arguments)
    cells, got, waited = probe_cells(3), [], []
    execute(PROBE, cells, got.append, jobs=jobs, parallel_config={"backend": "threading"},
            while_waiting=lambda: waited.append(len(got)))
    assert waited == [0]
    assert sorted(r.cell.cell_id for r in got) == [c.cell_id for c in cells]
    for r in got:
        assert told(r)["pid"] == os.getpid()  # threads of this process
        assert r.artifacts["args"] == {"root_seed": 0, "blas_threads": 1, "driver_pid": os.getpid(), "data_env": None}


def test_a_slow_pooled_cell_holds_back_none_of_the_others(tmp_path):
    cells = gate_cells(tmp_path, [True, False, False])  # the first waits until the other two are handed over
    order = []

    def on_result(result):
        order.append(result.cell.params["i"])
        if sorted(order) == [1, 2]:
            (tmp_path / "go").touch()

    execute(GATE, cells, on_result, jobs=2)
    assert sorted(order[:2]) == [1, 2] and order[2] == 0


@pytest.mark.filterwarnings("ignore:.*still being processed by the workers have been cancelled:UserWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # loky's manager, on abort
def test_fail_fast_in_a_pool_stops_the_cells_still_running_or_queued(tmp_path):
    cells = gate_cells(tmp_path, [False] + [True] * 5, ran=True)
    got = []

    def on_result(result):
        got.append(result.cell.params["i"])
        raise FailFast()

    with pytest.raises(FailFast) as stopped:
        execute(GATE, cells, on_result, jobs=2)
    (tmp_path / "go").touch()  # a cell still running would now finish
    time.sleep(2)
    assert got == [0] and sorted(p.name for p in tmp_path.glob("ran-*")) == ["ran-0"]
    assert stopped.type is FailFast


def test_jobs_1_and_jobs_2_hand_over_identical_records():
    cells = expand(TOY, *resolve_grid(TOY, {"steps": [10], "lr": [0.1, 0.5]}, None, False, 2))
    by_jobs = {}
    for jobs in (1, 2):
        got = by_jobs[jobs] = {}
        execute(TOY, cells, lambda r, got=got: got.__setitem__(r.cell.cell_id, r), jobs=jobs, root_seed=3)
    assert sorted(by_jobs[1]) == sorted(by_jobs[2]) == sorted(c.cell_id for c in cells)
    for cell_id, one in by_jobs[1].items():
        two = by_jobs[2][cell_id]
        assert one.status["status"] == two.status["status"] == "ok"
        assert one.records.lead == two.records.lead
        for column in ("step", "epoch", "metric", "value"):
            np.testing.assert_array_equal(getattr(one.records, column), getattr(two.records, column))

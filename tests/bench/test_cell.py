"""bench.cell: a cell's own Generator, what run_cell hands back (rows, status, artifacts, used values) for a
cell that is ok, diverges or fails, its BLAS threads and data variables, and a worker that leaves once
its driver is gone."""

import ctypes
import math
import os
import re
import select
import signal
import struct
import sys
import threading
import time
import traceback
import warnings
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bench import cell as cell_module
from bench.cell import CellResult, cell_rng, run_cell, watch_driver
from bench.grid import Cell, expand, resolve_grid
from bench.records import Recorder
from tests.toy_experiment import EXPERIMENT as TOY

CELL = Cell("probe", {"lr": 0.1, "hidden": None}, 3, "0123456789abcdef")
IGNORE_ALL = {"divide": "ignore", "over": "ignore", "under": "ignore", "invalid": "ignore"}


def reference_rng(root_seed, cell_id):
    """docs/usage.md: a cell draws from SeedSequence([root_seed, cell id]); the id's 16 hex digits enter
    as two 32-bit words, in the order they are written."""
    words = struct.unpack(">2I", bytes.fromhex(cell_id))
    return np.random.default_rng(np.random.SeedSequence([root_seed, *words]))


def probe(run):
    return SimpleNamespace(run=run)


def comparable(rows):
    """Rows with NaN made equal to NaN."""
    return [tuple("NaN" if isinstance(x, float) and math.isnan(x) else x for x in row) for row in rows]


def blas_threads():
    return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})


def test_a_cells_generator_is_seeded_by_the_root_seed_and_the_ids_words():
    for root_seed, cell_id in [(0, "0123456789abcdef"), (7, "fedcba9876543210"), (123, "00000000ffffffff")]:
        np.testing.assert_array_equal(cell_rng(root_seed, cell_id).random(5),
                                      reference_rng(root_seed, cell_id).random(5))


def test_a_cell_draws_the_same_numbers_in_every_version():
    assert cell_rng(0, "0123456789abcdef").random(3).tolist() == [0.9684426700527775, 0.42519304465488705,
                                                                  0.6478639909824938]
    assert cell_rng(7, "fedcba9876543210").integers(0, 1000, 4).tolist() == [474, 976, 860, 269]


def test_every_hex_digit_of_the_id_and_the_root_seed_change_a_cells_numbers():
    base = "0123456789abcdef"
    first = cell_rng(0, base).random(4)
    np.testing.assert_array_equal(cell_rng(0, base).random(4), first)
    for i in range(len(base)):
        other = base[:i] + ("1" if base[i] == "0" else "0") + base[i + 1:]
        assert not np.array_equal(cell_rng(0, other).random(4), first), other
    assert not np.array_equal(cell_rng(1, base).random(4), first)


def test_the_experiment_gets_a_copy_of_the_params_and_the_cells_own_generator():
    seen = {}

    def run(params, rng):
        seen.update(params=dict(params), draws=rng.random(3))
        params["lr"] = 99.0
        return []

    result = run_cell(probe(run), CELL, 5)
    assert seen["params"] == {"lr": 0.1, "hidden": None}
    np.testing.assert_array_equal(seen["draws"], reference_rng(5, "0123456789abcdef").random(3))
    assert CELL.params == {"lr": 0.1, "hidden": None} and result.status["params"] == {"lr": 0.1, "hidden": None}


def test_an_ok_cell_hands_back_its_rows_and_a_status_with_seed_params_wall_time_and_finish():
    def run(params, rng):
        rec = Recorder()
        rec.log("loss", 2.0, 0, epoch=0.0)
        rec.log("loss", 1.0, 1, epoch=0.5)
        rec.log("accuracy", 0.75, 1)
        return rec

    before, start = time.time(), time.perf_counter()
    result = run_cell(probe(run), CELL, 0)
    elapsed, after = time.perf_counter() - start, time.time()
    assert type(result) is CellResult and result.cell is CELL
    assert type(result.records) is list
    assert comparable(result.records) == [(0, 0.0, "loss", 2.0), (1, 0.5, "loss", 1.0), (1, "NaN", "accuracy", 0.75)]
    status = result.status
    assert sorted(status) == ["finished", "params", "seed", "status", "wall_time"]
    assert status["status"] == "ok" and status["seed"] == 3 and status["params"] == {"lr": 0.1, "hidden": None}
    assert 0 <= status["wall_time"] <= elapsed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", status["finished"]), status["finished"]
    finished = datetime.strptime(status["finished"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    assert int(before) <= finished <= after
    assert result.artifacts == {} and result.used == {}


@pytest.mark.parametrize("shape", [list, tuple, iter])
def test_rows_returned_as_any_iterable_become_a_list(shape):
    rows = [(0, 0.0, "loss", 1.0), (1, 0.5, "loss", 0.5)]
    result = run_cell(probe(lambda params, rng: shape(rows)), CELL, 0)
    assert type(result.records) is list and result.records == rows
    assert result.status["status"] == "ok" and result.artifacts == {} and result.used == {}


def test_a_dataframe_returned_is_handed_back_as_it_is():
    frame = pd.DataFrame({"step": [0, 1], "epoch": [0.0, 0.5], "metric": ["loss", "loss"], "value": [1.0, 0.5]})
    result = run_cell(probe(lambda params, rng: frame), CELL, 0)
    assert result.records is frame
    assert result.status["status"] == "ok" and result.artifacts == {} and result.used == {}


def test_a_recorders_artifacts_and_the_values_it_used_for_the_cells_params_come_back():
    model = object()

    def run(params, rng):
        rec = Recorder()
        rec.use("hidden", 16)
        rec.use("momentum", 0.9)
        rec.save("model", model)
        rec.log("loss", 1.0, 0)
        return rec

    result = run_cell(probe(run), CELL, 0)
    assert result.artifacts == {"model": model} and result.artifacts["model"] is model
    assert result.used == {"hidden": 16}  # momentum is no parameter of this cell
    assert comparable(result.records) == [(0, "NaN", "loss", 1.0)]


def test_a_diverging_cell_is_recorded_as_diverged_at_its_step_with_a_diverged_at_row():
    def run(params, rng):
        rec = Recorder()
        rec.use("hidden", 8)
        rec.use("beta", 0.5)
        rec.save("model", "never handed back")
        rec.log("loss", 1.0, 0, epoch=0.0)
        rec.log("loss", 0.5, 1, epoch=0.5)
        rec.log("loss", float("nan"), 2, epoch=1.0)
        rec.log("loss", 0.25, 3, epoch=1.5)
        return rec

    result = run_cell(probe(run), CELL, 0)
    assert comparable(result.records) == [(0, 0.0, "loss", 1.0), (1, 0.5, "loss", 0.5), (2, 1.0, "loss", "NaN"),
                                          (2, "NaN", "diverged_at", 2.0)]
    assert type(result.records[-1][3]) is float
    status = result.status
    assert sorted(status) == ["finished", "message", "params", "seed", "status", "step", "wall_time"]
    assert (status["status"], status["step"], status["message"]) == ("diverged", 2, "loss became non-finite at step 2")
    assert status["seed"] == 3 and status["params"] == {"lr": 0.1, "hidden": None}
    assert result.used == {"hidden": 8} and result.artifacts == {}


def ping(n):
    if n == 0:
        raise RuntimeError("boom on purpose")
    pong(n - 1)


def pong(n):
    ping(n - 1)


def test_a_cell_that_raises_is_recorded_as_failed_with_its_message_and_outermost_8_frames():
    def run(params, rng):
        rec = Recorder()
        rec.use("hidden", 4)
        rec.log("loss", 1.0, 0)
        ping(20)

    result = run_cell(probe(run), CELL, 0)
    status = result.status
    assert sorted(status) == ["finished", "message", "params", "seed", "status", "traceback", "wall_time"]
    assert status["status"] == "failed" and status["message"] == "RuntimeError: boom on purpose"
    assert status["seed"] == 3 and status["params"] == {"lr": 0.1, "hidden": None}
    tb = status["traceback"]
    assert tb.startswith("Traceback (most recent call last):\n") and tb.endswith("\nRuntimeError: boom on purpose\n")
    frames = re.findall(r'^  File "(.*)", line \d+, in (\w+)$', tb, re.M)
    assert len(frames) == 8
    assert frames[0][0].endswith(os.path.join("bench", "cell.py"))
    assert [name for _, name in frames[1:]] == ["run"] + ["ping", "pong"] * 3
    assert result.records == [] and result.artifacts == {} and result.used == {}


@pytest.mark.parametrize("mode, status, message", [
    ("ok", "ok", None),
    ("fail", "failed", "RuntimeError: boom on purpose"),
    ("diverge", "diverged", "loss became non-finite at step 3"),
])
def test_the_toy_experiments_cells_end_ok_failed_or_diverged_and_never_raise(mode, status, message):
    (cell,) = expand(TOY, *resolve_grid(TOY, {"mode": [mode], "lr": [0.1], "steps": [10]}, None, False, 1))
    result = run_cell(TOY, cell, 0)
    assert result.status["status"] == status and result.status.get("message") == message
    metrics = {row[2] for row in result.records}
    if mode == "ok":
        expected = TOY.run(dict(cell.params), reference_rng(0, cell.cell_id)).rows
        assert comparable(result.records) == comparable(expected)
    elif mode == "diverge":
        assert metrics == {"loss", "diverged_at"} and max(row[0] for row in result.records) == 3
        assert result.status["step"] == 3
    else:
        assert result.records == []


def test_the_drivers_data_variables_are_set_or_removed_before_the_cell_runs(monkeypatch):
    names = ("NNBENCH_DATA", "XDG_CACHE_HOME", "NNBENCH_PROBE_UNSET")
    monkeypatch.setenv("NNBENCH_DATA", "/worker/data")
    monkeypatch.setenv("XDG_CACHE_HOME", "/worker/cache")
    monkeypatch.delenv("NNBENCH_PROBE_UNSET", raising=False)
    seen = []
    experiment = probe(lambda params, rng: seen.append({k: os.environ.get(k) for k in names}) or [])
    run_cell(experiment, CELL, 0)
    result = run_cell(experiment, CELL, 0, data_env={"NNBENCH_DATA": "/driver/data", "XDG_CACHE_HOME": None,
                                                     "NNBENCH_PROBE_UNSET": None})
    assert seen == [{"NNBENCH_DATA": "/worker/data", "XDG_CACHE_HOME": "/worker/cache", "NNBENCH_PROBE_UNSET": None},
                    {"NNBENCH_DATA": "/driver/data", "XDG_CACHE_HOME": None, "NNBENCH_PROBE_UNSET": None}]
    assert result.status["status"] == "ok"


def test_blas_runs_with_the_cells_thread_count_and_float_errors_are_ignored():
    seen = []

    def run(params, rng):
        seen.append((blas_threads(), np.geterr()))
        np.array([1e308]) * 10  # overflow on the way to a NaN: expected in a diverging cell
        return []

    with threadpool_limits(limits=3, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("error")
        default = run_cell(probe(run), CELL, 0)
        two = run_cell(probe(run), CELL, 0, blas_threads=2)
    assert default.status["status"] == "ok" and two.status["status"] == "ok", (default.status, two.status)
    assert seen == [([1], IGNORE_ALL), ([2], IGNORE_ALL)]


def test_only_blas_is_limited_not_openmp():
    try:
        ctypes.CDLL("libgomp.so.1")
    except OSError:
        pytest.skip("no OpenMP runtime (libgomp.so.1) to load")
    if not any(i["user_api"] == "openmp" for i in threadpool_info()):
        pytest.skip("threadpoolctl does not see the OpenMP runtime")
    seen = []

    def run(params, rng):
        seen.append(sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"}))
        return []

    with threadpool_limits(limits=3, user_api="openmp"):
        run_cell(probe(run), CELL, 0)
    assert seen == [[3]]


def test_a_cell_given_its_drivers_pid_watches_that_driver(monkeypatch):
    watched = []
    monkeypatch.setattr(cell_module, "watch_driver", watched.append)
    run_cell(probe(lambda params, rng: []), CELL, 0)
    assert watched == []
    run_cell(probe(lambda params, rng: []), CELL, 0, driver_pid=4321)
    assert watched == [4321]


# A worker whose driver is gone: real processes. The test process forks a reaper (a child subreaper, so
# orphans come back to it and it sees their exit codes), the reaper a driver, the driver a worker.

needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="forks processes and makes one a child subreaper (Linux)")
PR_SET_CHILD_SUBREAPER = 36
WATCHER = "nnbench-watch-driver"


def fork(body):
    """Run body() in a forked child that leaves with its return value and never returns into pytest."""
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            code = body()
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def exit_code(pid, timeout=30):
    """The child's exit code, or None if it has not ended within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    return None


class Report:
    """Lines a child writes to a pipe, read with a deadline."""

    def __init__(self, fd):
        self.fd, self.data, self.closed = fd, b"", False

    def until(self, enough, timeout=30):
        deadline = time.monotonic() + timeout
        while not enough(self.lines()) and not self.closed and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                chunk = os.read(self.fd, 4096)
                self.closed = not chunk
                self.data += chunk
        return self.lines()

    def lines(self):
        return self.data.decode().splitlines()

    def value(self, key):
        return [line.split(" ", 1)[1] for line in self.lines() if line.startswith(key + " ")]


def threads_besides_this_one():
    return [(t.name, t.daemon) for t in threading.enumerate() if t is not threading.current_thread()]


class WorkerOfADriver:
    """Fork reaper -> driver -> worker; the worker calls watch_driver(driver) twice and reports its pid,
    its threads and each sleep of the watcher. release() ends the driver; the reaper leaves with the
    worker's exit code once every process below it has ended (98: this system has no child subreapers)."""

    def __init__(self, every):
        report_r, report_w = os.pipe()
        release_r, self.release_w = os.pipe()

        def worker():
            os.write(report_w, f"pid {os.getpid()}\n".encode())
            real_sleep = time.sleep

            def sleep(seconds):
                os.write(report_w, f"sleep {seconds!r}\n".encode())
                real_sleep(seconds)

            time.sleep = sleep
            options = {} if every is None else {"every": every}
            watch_driver(os.getppid(), **options)
            watch_driver(os.getppid(), **options)
            os.write(report_w, f"threads {threads_besides_this_one()!r}\n".encode())
            threading.Event().wait(60)
            return 0

        def driver():
            fork(worker)
            os.close(report_w)
            os.read(release_r, 1)
            return 0

        def reaper():
            if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
                return 98
            driver_pid = fork(driver)
            os.close(report_w)
            worker_code = 99
            while True:
                try:
                    pid, status = os.waitpid(-1, 0)
                except ChildProcessError:
                    return worker_code
                if pid != driver_pid:
                    worker_code = os.waitstatus_to_exitcode(status)

        self.reaper = fork(reaper)
        os.close(report_w)
        os.close(release_r)
        self.report = Report(report_r)
        self.code = None

    def __enter__(self):
        return self

    def release(self):
        os.write(self.release_w, b"x")

    def exit_code(self, timeout=30):
        if self.code is None:
            self.code = exit_code(self.reaper, timeout)
        return self.code

    def skip_without_subreapers(self):
        if not self.report.lines() and self.exit_code() == 98:
            pytest.skip("this system has no child subreapers (prctl PR_SET_CHILD_SUBREAPER)")

    def __exit__(self, *exc):
        if self.code is None:  # the reaper still runs: so may the worker
            for pid in map(int, self.report.value("pid")):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.kill(self.reaper, signal.SIGKILL)
            os.waitpid(self.reaper, 0)
        os.close(self.release_w)
        os.close(self.report.fd)


def this_process_watches_nothing():
    """watch_driver called in the driver itself (this process) starts nothing."""
    watch_driver(os.getpid())
    assert WATCHER not in [t.name for t in threading.enumerate()] and cell_module._watching is False


@needs_fork
def test_a_worker_keeps_running_while_its_driver_lives_and_exits_with_1_once_it_is_gone():
    this_process_watches_nothing()
    with WorkerOfADriver(every=0.05) as worker:
        report = worker.report
        report.until(lambda lines: len(report.value("sleep")) >= 3 and report.value("threads"))
        worker.skip_without_subreapers()
        assert report.value("threads") == [repr([(WATCHER, True)])]  # one watcher however often it is asked
        assert len(report.value("sleep")) >= 3 and set(report.value("sleep")) == {"0.05"}
        worker.release()
        assert worker.exit_code() == 1


@needs_fork
def test_a_worker_checks_on_its_driver_every_second_by_default():
    this_process_watches_nothing()
    with WorkerOfADriver(every=None) as worker:
        report = worker.report
        report.until(lambda lines: report.value("sleep") and report.value("threads"))
        worker.skip_without_subreapers()
        assert report.value("sleep")[0] == "1.0" and report.value("threads") == [repr([(WATCHER, True)])]
        worker.release()
        assert worker.exit_code() == 1


@needs_fork
def test_a_process_the_driver_did_not_start_is_not_watched():
    this_process_watches_nothing()
    gone = fork(lambda: 0)
    os.waitpid(gone, 0)  # a driver pid that no longer exists
    report_r, report_w = os.pipe()

    def body():
        watch_driver(gone, every=0.05)
        os.write(report_w, f"threads {threads_besides_this_one()!r}\n".encode())
        threading.Event().wait(0.5)
        return 0

    pid = fork(body)
    os.close(report_w)
    report = Report(report_r)
    code = None
    try:
        report.until(lambda lines: lines)
        code = exit_code(pid)
        assert code == 0 and report.lines() == ["threads []"]
    finally:
        os.close(report_r)
        if code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

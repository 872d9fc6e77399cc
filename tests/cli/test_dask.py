"""The dask backend against a real LocalCluster on 127.0.0.1: same bits as one process, a killed
worker loses nothing, an unreachable scheduler is one line."""

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import bench_cmd, cli_env, run_cli, wait_for_cells

distributed = pytest.importorskip("distributed", reason='pip install -e ".[dask]" (CI installs it)')


@pytest.fixture(scope="module")
def cluster():
    import logging

    from distributed import Client, LocalCluster

    env = cli_env()
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]  # workers import the toy experiment from tests/
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as lc, Client(lc) as client:
        yield lc, client


def records(path):
    return pd.read_parquet(path / "records.parquet")


def test_dask_run_equals_a_single_process_run(tmp_path, cluster):
    lc, _ = cluster
    one = run_cli("run", "toy", "--jobs", "1", "--run", "one", cwd=tmp_path)
    dask = run_cli("run", "toy", "--backend", "dask", "--scheduler", lc.scheduler_address, "--run", "dask",
                   cwd=tmp_path)
    assert one.returncode == 0 and dask.returncode == 0, dask.stderr
    assert "dask: 2 workers" in dask.stderr
    pd.testing.assert_frame_equal(records(tmp_path / "results/toy/one"), records(tmp_path / "results/toy/dask"))
    manifest = json.loads((tmp_path / "results/toy/dask/manifest.json").read_text())
    assert manifest["config"]["parallel"] == "dask"


def test_killed_worker_does_not_lose_the_grid(tmp_path, cluster):
    lc, client = cluster
    args = ["run", "toy", "--set", "sleep=0.03", "--set", "lr=0.1,0.2,0.3,0.4", "--seeds", "2", "--backend", "dask",
            "--scheduler", lc.scheduler_address]
    proc = subprocess.Popen(bench_cmd(*args), cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_cells(tmp_path / "results/toy/moons/cells", 1)
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)  # mid-grid: the other cells are running or queued
    out, err = proc.communicate(timeout=300)
    rerun = run_cli(*args, cwd=tmp_path)
    assert rerun.returncode == 0, err + rerun.stderr
    reference = run_cli(*args[:-4], "--jobs", "1", "--run", "ref", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    got, want = records(tmp_path / "results/toy/moons"), records(tmp_path / "results/toy/ref")
    assert got["cell_id"].nunique() == 8
    pd.testing.assert_frame_equal(got, want)
    client.wait_for_workers(2, timeout=60)


def test_unreachable_scheduler_fails_after_the_timeout_with_one_line(tmp_path):
    # The command ends by itself (run_cli's timeout stops a hang); how long it takes is a benchmark's business.
    proc = run_cli("run", "toy", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "3",
                   cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no Dask scheduler answered at tcp://127.0.0.1:9 within 3 s" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_extra_is_a_clear_error(tmp_path):
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from bench.cli import main; sys.exit(main(['run', 'toy', '--backend', 'dask']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cli_env(), capture_output=True, text=True)
    assert proc.returncode == 2 and 'pip install -e ".[dask]"' in proc.stderr


def test_scheduler_without_dask_backend(tmp_path):
    proc = run_cli("run", "toy", "--scheduler", "tcp://127.0.0.1:9", cwd=tmp_path)
    assert proc.returncode == 2 and "--scheduler goes with --backend dask" in proc.stderr


@pytest.mark.parametrize("address, message", [
    ("localhost:8786", "no protocol"), ("tcp://localhost", "no port"), ("tcp://localhost:99999", "port 99999"),
    ("tcpp://localhost:8786", "unknown protocol 'tcpp'"), ("tcp://:8786", "no host"),
    ("tls://localhost:8786", "uses TLS, but Dask's configuration names no certificates"),
])
def test_malformed_scheduler_address_is_one_line_before_connecting(tmp_path, address, message):
    proc = run_cli("run", "toy", "--backend", "dask", "--scheduler", address, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_a_port_that_never_answers_times_out_in_one_line(tmp_path):
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)  # accepts connections, never says a word
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        proc = run_cli("run", "toy", "--backend", "dask", "--scheduler", address, "--connect-timeout", "2",
                       cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and f"no Dask scheduler answered at {address} within 2 s" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_losing_the_scheduler_mid_grid_ends_in_one_line(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = cli_env()
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--dashboard-address", ":0"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                               "--host", "127.0.0.1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        args = ["run", "toy", "--set", "sleep=0.1", "--set", "lr=0.1,0.2,0.3,0.4", "--seeds", "2", "--backend",
                "dask", "--scheduler", address, "--connect-timeout", "30"]
        proc = subprocess.Popen(bench_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wait_for_cells(tmp_path / "results/toy/moons/cells", 1, timeout=120)
        scheduler.kill()
        out, err = proc.communicate(timeout=180)
    finally:
        for p in (scheduler, worker):
            p.kill()
            p.wait()
    # Without its scheduler the grid either completes (joblib finishes what it can) or stops, and then
    # says in one line how much is stored. Either way: no log, no traceback, and nothing is lost.
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "distributed" not in err and len(lines) <= 3, err
    if proc.returncode != 0:
        stored = len(list((tmp_path / "results/toy/moons/cells").glob("*.json")))
        assert f"{stored} of 8 cells are stored: run the same command again to resume" in lines[-1], err
    assert run_cli(*args[:-6], "--jobs", "1", cwd=tmp_path).returncode == 0  # resumes here, no cluster
    reference = run_cli(*args[:-6], "--jobs", "1", "--run", "ref", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    pd.testing.assert_frame_equal(records(tmp_path / "results/toy/moons"), records(tmp_path / "results/toy/ref"))

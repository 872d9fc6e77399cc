"""Check, then run; verify, then trust. Every invalid parameter or option is one line and exit 2 before
anything runs or is written; every kind of damaged state is reported in one line and recovered."""

import gzip
import json
import math
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nncore
from bench import registry
from bench.errors import UserError
from bench.grid import parse_overrides
from nncore.datasets import load, mnist, write_idx
from nncore.datasets.mnist import FILES
from tests.helpers import bench_cmd, cli_env, run_cli, wait_for_cells
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)
EXPERIMENTS = registry.all_experiments()
PARAMETERS = [(e.name, name, param) for e in EXPERIMENTS.values() for name, param in e.params.items()]
WORDS = st.text(alphabet="qxzw", min_size=1, max_size=6)  # never JSON, never a number


def invalid_values(param):
    """Values the parameter must refuse, by construction."""
    if param.kind == "str":  # any text is a valid path; numbers, lists and booleans are not
        return st.sampled_from([1.5, [1], True] + ([] if param.nullable else [None]))
    options = [WORDS.filter(lambda w: w not in (param.choices or ())), st.just([[1]])]
    options.append(st.sampled_from([1, 0.5]) if param.kind == "bool" else st.just(True))
    if not param.nullable:
        options.append(st.none())
    if param.kind in ("int", "float"):
        options += [st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.just([1])]
        if param.low is not None:
            edge = st.just(param.low) if param.low_open else st.nothing()
            options += [st.floats(max_value=param.low, exclude_max=True, allow_nan=False, allow_infinity=False)
                        .filter(lambda v: v < param.low), edge]
        if param.high is not None:
            options.append(st.floats(min_value=param.high, exclude_min=True, allow_nan=False, allow_infinity=False)
                           .filter(lambda v: v > param.high))
        if param.kind == "int":
            options.append(st.floats(0.1, 0.9).map(lambda f: (param.low or 0) + 1 + f))
    if param.kind in ("ints", "floats"):
        options += [st.just(3), st.just([] if param.min_len else [[]])]
        if param.low is not None:
            options.append(st.just([param.low - 1] * max(param.min_len, 1)))
    if param.kind == "choice":
        options += [st.just(1.5)]
    return st.one_of(options)


def as_text(value):
    return value if isinstance(value, str) else json.dumps(value).replace("NaN", "NaN")


@st.composite
def bad_override(draw):
    experiment, name, param = draw(st.sampled_from(PARAMETERS))
    value = draw(invalid_values(param))
    return EXPERIMENTS[experiment], name, value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(bad_override())
def test_every_parameter_refuses_invalid_values(case):
    experiment, name, value = case
    with pytest.raises(UserError, match=f"bad value for {name}") as info:
        parse_overrides([f"{name}={as_text(value)}"], experiment)
    assert "\n" not in str(info.value)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.filter_too_much])
@given(case=bad_override())
def test_invalid_values_on_the_command_line_exit_2_and_write_nothing(tmp_path_factory, case):
    experiment, name, value = case
    folder = tmp_path_factory.mktemp("cli")
    proc = run_cli("run", experiment.name, "--set", f"{name}={as_text(value)}", cwd=folder)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and f"bad value for {name}" in proc.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("option", [
    ["--jobs", "0"], ["--jobs", "-1"], ["--jobs", "10000"], ["--seeds", "0"], ["--seeds", "1000000"],
    ["--blas-threads", "0"], ["--blas-threads", "-1"], ["--blas-threads", "4096"], ["--root-seed", "-1"],
    ["--root-seed", str(2**70)], ["--run", "../x"], ["--run", "/tmp/x"], ["--run", ".."], ["--run", "."],
    ["--run", "a/b"], ["--run", ""], ["--dataset", "cifar"], ["--connect-timeout", "0", "--backend", "dask"],
    ["--set", "lr=1", "--set", "lr"], ["--set", "=1"], ["--set", "lr=[1"],
])
def test_invalid_run_options_exit_2_before_anything_is_written(tmp_path, option):
    proc = run_cli("run", "toy", *option, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_show_list_and_version():
    show = run_cli("show", "optimizer_compare", cwd="/tmp")
    assert show.returncode == 0 and "lr" in show.stdout and "a number > 0, or null" in show.stdout
    assert "optimizer: sgd, momentum, nesterov, adagrad, rmsprop, adam, a plugin's name, or module:attr" in show.stdout
    assert "reproduces: Saitoh, Deep Learning from Scratch" in show.stdout
    assert "data sets: mnist, fashion_mnist, digits" in show.stdout
    listed = run_cli("list", cwd="/tmp")
    assert all(name in listed.stdout for name in EXPERIMENTS)
    version = run_cli("--version", cwd="/tmp")
    assert version.returncode == 0 and version.stdout.startswith("nnbench ")
    unknown = run_cli("show", "nope", cwd="/tmp")
    assert unknown.returncode == 2 and "unknown experiment 'nope'" in unknown.stderr


def test_every_declared_default_passes_its_own_schema():
    for experiment in EXPERIMENTS.values():
        for name, values in experiment.grid.items():
            for v in values:
                experiment.params[name].check(name, v)


@pytest.mark.parametrize("build, message", [
    (lambda: nncore.MLP([784, 0, 10], np.random.default_rng(0)), r"sizes\[1\]"),
    (lambda: nncore.MLP([784, 2.5, 10], np.random.default_rng(0)), r"sizes\[1\]"),
    (lambda: nncore.MLP([784, 10], np.random.default_rng(0), dropout=1.0), "dropout"),
    (lambda: nncore.MLP([784, 10], np.random.default_rng(0), weight_decay=-1), "weight_decay"),
    (lambda: nncore.MLP([784, 10], np.random.default_rng(0), init=-0.1), "init"),
    (lambda: nncore.MLP([784, 10], np.random.default_rng(0), dtype=np.int32), "dtype"),
    (lambda: nncore.make_optimizer("sgd", lr=-1), "lr"),
    (lambda: nncore.make_optimizer("sgd", lr=float("nan")), "lr"),
    (lambda: nncore.make_optimizer("momentum", momentum=1.5), "momentum"),
    (lambda: nncore.make_optimizer("rmsprop", decay_rate=1.0), "decay_rate"),
    (lambda: nncore.make_optimizer("adam", beta2=-0.1), "beta2"),
    (lambda: nncore.layers.Dropout(1.0, np.random.default_rng(0)), "dropout ratio"),
    (lambda: nncore.MLP([4, 2], np.random.default_rng(0)).accuracy(np.zeros((2, 4)), np.zeros(2, int), 0),
     "batch_size"),
])
def test_the_engine_checks_its_own_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# -- damaged state -------------------------------------------------------------------------------

@pytest.fixture
def stored(tmp_path):
    """A finished toy run, and its records as they should be."""
    assert run_cli("run", "toy", "--seeds", "1", cwd=tmp_path).returncode == 0
    folder = tmp_path / "results/toy/moons"
    return folder, pd.read_parquet(folder / "records.parquet")


def one_line(proc, code=2):
    assert proc.returncode == code and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_a_bit_flip_in_a_cell_is_found_and_the_cell_recomputed(stored):
    folder, before = stored
    cell = sorted((folder / "cells").glob("*.parquet"))[0]
    data = bytearray(cell.read_bytes())
    data[len(data) // 2] ^= 0x01
    cell.write_bytes(bytes(data))
    rerun = run_cli("run", "toy", "--seeds", "1", cwd=folder.parents[2])
    assert rerun.returncode == 0 and "does not match its checksum; computing it again" in rerun.stderr
    assert "running 1" in rerun.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "records.parquet"), before)


@pytest.mark.parametrize("damage", ["garbage", "empty", "not a status"])
def test_a_damaged_status_file_is_recomputed(stored, damage):
    folder, before = stored
    status = sorted((folder / "cells").glob("*.json"))[0]
    status.write_bytes({"garbage": b"\xff\x00{", "empty": b"", "not a status": b"[1, 2]"}[damage])
    rerun = run_cli("run", "toy", "--seeds", "1", cwd=folder.parents[2])
    assert rerun.returncode == 0 and "unreadable status file; computing it again" in rerun.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "records.parquet"), before)


def test_a_damaged_manifest_is_one_line_and_force_recovers(stored):
    folder, before = stored
    (folder / "manifest.json").write_text('{"config": ')
    root = folder.parents[2]
    assert "manifest.json is damaged" in one_line(run_cli("run", "toy", "--seeds", "1", cwd=root))
    assert "manifest.json is damaged" in one_line(run_cli("report", "toy", cwd=root))
    assert "manifest.json is damaged" in one_line(run_cli("compare", "toy", "toy", cwd=root))
    forced = run_cli("run", "toy", "--seeds", "1", "--force", cwd=root)
    assert forced.returncode == 0, forced.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "records.parquet"), before)


def test_report_on_damaged_folders_is_one_line(stored):
    folder, _ = stored
    root = folder.parents[2]
    (folder.parent / "latest").write_bytes(b"\xff\xfe\x00")
    assert "latest is damaged" in one_line(run_cli("report", "toy", cwd=root))
    (folder.parent / "latest").write_text("../../elsewhere\n")
    assert "does not name a run folder" in one_line(run_cli("report", "toy", cwd=root))
    (folder.parent / "latest").write_text("moons\n")
    for f in (folder / "figures").iterdir():
        f.unlink()
    (folder / "figures").rmdir()
    (folder / "figures").write_text("a file where the figures go")
    one_line(run_cli("report", "toy", cwd=root))
    (folder / "figures").unlink()
    (folder / "records.parquet").write_bytes(b"PAR1 broken")
    assert "cannot read its tables" in one_line(run_cli("report", "toy", cwd=root))
    (folder / "summary.parquet").write_bytes(b"")
    assert "cannot read its tables" in one_line(run_cli("report", "--html", "toy", cwd=root))
    assert "bad run name '../x'" in one_line(run_cli("report", "toy", "--run", "../x", cwd=root))


def test_results_folder_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    assert "cannot write results" in one_line(run_cli("run", "toy", cwd=tmp_path))


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_writes(tmp_path):
    from filelock import FileLock

    assert run_cli("run", "toy", "--seeds", "1", cwd=tmp_path).returncode == 0
    folder = tmp_path / "results/toy/moons"
    (folder / ".lock.owner").write_text("pid 4242 on testhost, since 12:00:00\n")
    stale = folder / "cells" / ".abc.parquet.tmp"
    with FileLock(str(folder / ".lock")):
        stale.write_text("a live writer's half-written file")
        err = one_line(run_cli("run", "toy", "--seeds", "1", cwd=tmp_path))
        assert "being written by another run (pid 4242 on testhost" in err and "--run NAME" in err
        assert stale.exists()  # not the refused run's to delete
    # The writer is gone: its temporary file is removed by the next run, which owns the folder.
    assert run_cli("run", "toy", "--seeds", "1", cwd=tmp_path).returncode == 0 and not stale.exists()


def test_failed_cells_are_listed_with_their_parameters(tmp_path):
    proc = run_cli("run", "toy", "--seeds", "1", "--set", "mode=ok,fail", cwd=tmp_path)
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("failed:")]
    assert len(failed) == 2 and all('mode="fail"' in line and "boom on purpose" in line for line in failed)
    assert any('lr=0.1' in line for line in failed) and "cell " in proc.stderr and 'mode="fail"' in proc.stderr
    report = run_cli("report", "toy", cwd=tmp_path)
    assert [line for line in report.stdout.splitlines() if line.startswith("failed:")] == failed


def test_workers_do_not_outlive_a_killed_driver(tmp_path):
    proc = subprocess.Popen(bench_cmd("run", "toy", "--set", "sleep=0.2", "--set", "lr=0.1,0.2,0.3", "--jobs", "2"),
                            cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_cells(tmp_path / "results/toy/moons/cells", 1)

    def children(pid):
        found = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
            except OSError:
                pass
        return found

    workers = children(proc.pid)
    assert workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{w}") and _alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(os.path.exists(f"/proc/{w}") and _alive(w) for w in workers)


def _alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# -- data ----------------------------------------------------------------------------------------

def broken_mnist(folder, what):
    """The four files in `folder`, with one kind of damage."""
    arrays = []
    rng = np.random.default_rng(0)
    for n in (60, 20):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 255, (n, 28, 28)).astype(np.uint8)
        arrays += [images, labels]
    if what == "labels 200":
        arrays[1][0] = 200
    if what == "blank images":
        arrays[0][:] = 0
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(FILES, arrays):
        write_idx(folder / name, array)
    if what == "bad magic":
        (folder / FILES[2]).write_bytes(b"\x1f\x8b" + b"junk")
    if what == "truncated":
        raw = gzip.decompress((folder / FILES[0]).read_bytes())  # uncompressed IDX, cut half way
        (folder / FILES[0]).write_bytes(raw[: len(raw) // 2])
    return folder


@pytest.mark.parametrize("what, message", [
    ("labels 200", "labels run from 0 to 200"), ("blank images", "the images are blank"),
    ("bad magic", "corrupt gzip data"), ("truncated", "truncated"),
    ("sound but not MNIST", "is not the official mnist train-images-idx3-ubyte"),
])
def test_bad_data_is_one_line_before_any_cell(tmp_path, monkeypatch, what, message):
    data = broken_mnist(tmp_path / "data", what)
    work = tmp_path / "work"
    work.mkdir()
    env = {**cli_env(), "NNBENCH_DATA": str(data), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run(bench_cmd("run", "optimizer_compare", "--quick", "--dataset", "mnist"), cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert message in one_line(proc)
    assert list(work.iterdir()) == []  # no run folder: nothing ran


@pytest.mark.parametrize("damage", ["overwritten", "empty"])
def test_a_damaged_prepared_cache_is_verified_and_rebuilt(tiny_mnist, damage):
    good = load("mnist", data_dir=tiny_mnist).x_train.copy()
    (folder,) = (mnist.cache_dir("mnist") / "prepared").iterdir()
    target = folder / "x_train.npy"
    if damage == "overwritten":  # a valid array file of the right shape, other values
        np.save(target, np.zeros_like(good).reshape(60, 28, 28))
    else:
        target.write_bytes(b"")
    assert np.array_equal(load("mnist", data_dir=tiny_mnist, verify=True).x_train, good)
    assert np.array_equal(load("mnist", data_dir=tiny_mnist).x_train, good)


def test_cache_files_have_ordinary_permissions(tiny_mnist):
    load("mnist", data_dir=tiny_mnist)
    (folder,) = (mnist.cache_dir("mnist") / "prepared").iterdir()
    umask = os.umask(0)
    os.umask(umask)
    assert {oct(f.stat().st_mode & 0o777) for f in folder.iterdir()} == {oct(0o666 & ~umask)}


@st.composite
def bad_option(draw):
    from bench.api import JOBS_PER_CORE, MAX_ROOT_SEED, MAX_SEEDS

    cores = os.cpu_count() or 1
    bounds = {"jobs": (1, JOBS_PER_CORE * cores), "seeds": (1, MAX_SEEDS), "blas_threads": (1, cores),
              "root_seed": (0, MAX_ROOT_SEED)}
    name = draw(st.sampled_from(sorted(bounds)))
    low, high = bounds[name]
    value = draw(st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1),
                           st.floats(allow_nan=True), st.booleans(), WORDS, st.none() if name == "root_seed"
                           else st.nothing()))
    return name, value


@settings(max_examples=300, deadline=None)
@given(bad_option())
def test_every_run_option_refuses_values_out_of_bounds(case):
    from bench.api import check_options

    name, value = case
    options = {"jobs": None, "seeds": None, "blas_threads": 1, "root_seed": 0, name: value}
    with pytest.raises(UserError, match=f"--{name.replace('_', '-')} must be a whole number"):
        check_options(**options)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=12))
def test_run_names_are_plain_names_or_refused(name):
    from bench.api import check_run_name

    plain = bool(name) and all(c.isascii() and (c.isalnum() or c in "._-") for c in name) and name not in (".", "..")
    if plain:
        assert check_run_name(name) == name
    else:
        with pytest.raises(UserError, match="bad run name"):
            check_run_name(name)

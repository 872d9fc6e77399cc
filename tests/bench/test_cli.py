"""bench.cli in process: what each command prints, exits with and writes, and its one-line errors."""

import contextlib
import io
import json
import os
from dataclasses import replace
from importlib import metadata

import pandas as pd
import pytest

import bench
from bench import cli, registry
from bench.params import Int
from bench.tuning import Range, Tuning
from tests.bench.conftest import stored_run, summary_frame
from tests.helpers import data_of
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)

RAN_TWO = "toy: 2 cells, 0 already done, running 2 -> results/toy/moons\n"
TABLES = "tables: {0}/records.parquet, {0}/summary.csv; figures: {0}/figures"
FAILED = 'failed: [lr={lr}, hidden=4, steps=30, mode="fail", sleep=0.0, seed {seed}]: RuntimeError: boom on purpose'
WRITABLE = "; check that the results folder is writable (or pass --results DIR)"


def shown_experiment():
    return bench.Experiment(
        name="shown", description="an experiment to show", run=TOY.run, plot=TOY.plot, version=3,
        grid={"lr": [0.1, 0.5], "hidden": [4], "steps": [30], "mode": ["ok"], "sleep": [0.0]},
        datasets=("moons", "xor", "digits"), seeds=3, quick={"steps": [10], "hidden": [4], "seeds": 2},
        dataset_grids={"xor": {"steps": [5]}, "digits": {"steps": [5]}, "points": {"steps": [7], "lr": [0.2]}},
        params=TOY.params, accepts=("points", "vectors"), source="Someone et al. 2020", metrics=TOY.metrics)


def tuned_experiment():
    return bench.Experiment(
        name="tuned", description="a tuned toy", run=TOY.run, plot=TOY.plot,
        grid={"hidden": [4, 8], "steps": [30], "mode": ["ok"], "sleep": [0.0], "trials": [3]},
        datasets=("moons",), seeds=2, params={**{k: v for k, v in TOY.params.items() if k != "lr"},
                                              "trials": Int("trials", 1, 100), "lr": TOY.params["lr"]},
        tuning=Tuning(lambda point: {"lr": Range(0.01, 1.0, log=True)}, metric="accuracy", params=("lr",)))


@contextlib.contextmanager
def no_cluster(calls, scheduler=None, timeout=10, logs=False):
    calls.append((scheduler, timeout, logs))
    raise bench.errors.UserError("no cluster in this test")
    yield


@pytest.fixture(autouse=True)
def clusters(monkeypatch):
    """No Dask cluster in these tests: what would reach one is recorded."""
    import bench.dask_backend

    calls = []
    monkeypatch.setattr(bench.dask_backend, "dask_cluster", lambda *a: no_cluster(calls, *a))
    return calls


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Each test in its own empty folder, with no results folder from the environment, wide help text
    and the test experiments registered for this test only."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNBENCH_RESULTS", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    registry.all_experiments()
    headlined = replace(TOY, name="headlined", headline=lambda records: "the headline of this run")
    for experiment in (shown_experiment(), tuned_experiment(), headlined):
        monkeypatch.setitem(registry._REGISTRY, experiment.name, experiment)
        monkeypatch.setitem(registry._SOURCES, experiment.name, "registered in code")
    return tmp_path


def main(capsys, *argv):
    """(exit status, stdout, stderr) of `python -m bench ARGV`, in this process."""
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def flat(text):
    return " ".join(text.split())


def manifest_of(folder):
    return json.loads((folder / "manifest.json").read_text())


# -- help and version -----------------------------------------------------------------------------

EXAMPLES = """examples:
  python -m bench list
  python -m bench run optimizer_compare --dataset fashion_mnist
  python -m bench run optimizer_compare --quick --set optimizer=sgd,adam --seeds 2 --jobs 2
  python -m bench report optimizer_compare      (figures again, from the stored tables)
  python -m bench report --html                 (results/report.html)
  python -m bench compare optimizer_compare/fashion_mnist path/to/other/run --fail-on-regression
"""


def test_top_level_help_names_every_command_and_ends_with_the_examples(capsys):
    code, out, err = main(capsys, "--help")
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "usage: python -m bench [-h] [--version] COMMAND ..."
    assert out.endswith("\n\n" + EXAMPLES)
    text = flat(out)
    for phrase in [
        "nnbench: run, store, plot and compare small-network experiments.",
        "--version show program's version number and exit",
        "list experiments: name, description, default cell count",
        "show an experiment's parameters (type, default, quick value, allowed values) and data sets",
        "run run or resume an experiment's grid",
        "runs every stored run, newest first: when, data set, quick, cells, and the settings that differ from the "
        "defaults",
        "report rebuild figures from stored tables; --html for one page",
        "compare two runs of one experiment, setting by setting: each metric called a regression, improvement, "
        "equivalent or inconclusive (Welch and two one-sided tests, Benjamini-Hochberg adjusted)",
    ]:
        assert phrase in text


@pytest.mark.parametrize("command, usage, phrases", [
    ("list", "usage: python -m bench list [-h]", []),
    ("show", "usage: python -m bench show [-h] name", ["name experiment name (see `list`)"]),
    ("run", "usage: python -m bench run [-h] [--set NAME=V1[,V2...]] [--seeds SEEDS] [--dataset DATASET] [--quick]", [
        "name experiment name (see `list`)",
        "--set NAME=V1[,V2...] override a grid parameter, e.g. --set lr=0.01,0.1 or --set hidden=[100,100]",
        "--seeds SEEDS number of seeds per setting",
        "--dataset DATASET dataset (each experiment lists the ones it supports)",
        "--quick the reduced smoke-test variant",
        "--jobs JOBS, -j JOBS worker processes (default: one per core; one per cell when the grid has more cells "
        "than cores but fewer than twice as many)",
        "--run RUN run folder name (default: the dataset, plus -quick)",
        "--force re-run every cell, discarding stored ones",
        "--fail-fast stop at the first failed cell",
        "--root-seed ROOT_SEED root of every cell's seed sequence (default 0)",
        "--blas-threads BLAS_THREADS BLAS threads per cell (default 1: identical bits for any --jobs)",
        "--results RESULTS results folder (default ./results or $NNBENCH_RESULTS)",
        "--backend {loky,dask} loky: processes on this machine (default); dask: a Dask cluster",
        "--scheduler tcp://HOST:PORT with --backend dask: the scheduler to use (default: start a LocalCluster)",
        "--connect-timeout SECONDS with --scheduler: how long the scheduler has to answer (default 10)",
        "--dask-logs with --backend dask: show distributed's own log",
        "--no-progress no progress bar",
    ]),
    ("runs", "usage: python -m bench runs [-h] [--experiment EXPERIMENT] [--results RESULTS]", [
        "--experiment EXPERIMENT only this experiment's runs", "--results RESULTS results folder"]),
    ("report", "usage: python -m bench report [-h] [--run RUN] [--experiment EXPERIMENT] [--all] [--html] "
     "[--results RESULTS] [name]", [
        "name experiment name",
        "--run RUN run folder name (default: latest); with --html, only the runs of this name (default: every run)",
        "--experiment EXPERIMENT with --html: only this experiment's runs",
        "--all every experiment with a stored run",
        "--html write results/report.html: one self-contained interactive page of every run (curves, comparisons, "
        "manifests) that opens offline",
        "--results RESULTS results folder",
    ]),
    ("compare", "usage: python -m bench compare [-h] [--fail-on-regression] [--fail-on-inconclusive] "
     "[--margin METRIC=VALUE] [--alpha ALPHA] [--min-effect MIN_EFFECT] [--results RESULTS] run_a run_b", [
        "run_a EXPERIMENT, EXPERIMENT/RUN or a run folder",
        "--fail-on-regression exit 1 if a metric got worse beyond its margin",
        "--fail-on-inconclusive exit 1 also if a metric is neither shown changed nor shown equivalent (more seeds "
        "decide)",
        "--margin METRIC=VALUE equivalence margin of a metric, in its units (repeatable; default: the experiment's "
        "declared margin, e.g. 0.01 for an accuracy, else --min-effect)",
        "--alpha ALPHA false discovery rate across the comparison's tests (default 0.05)",
        "--min-effect MIN_EFFECT margin of a metric without a declared one, as a fraction of run a's mean (default "
        "0.01)",
        "--results RESULTS results folder",
    ]),
])
def test_each_command_help_says_what_each_option_does(capsys, command, usage, phrases):
    code, out, err = main(capsys, command, "--help")
    assert code == 0 and err == ""
    text = flat(out)
    assert text.startswith(usage)
    for phrase in phrases:
        assert phrase in text


def test_version_prints_the_installed_version(capsys):
    try:
        version = metadata.version("nnbench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    assert main(capsys, "--version") == (0, f"nnbench {version}\n", "")


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["nope"], "argument COMMAND: invalid choice: 'nope'"),
    (["run", "toy", "--backend", "ray"], "argument --backend: invalid choice: 'ray' (choose from 'loky', 'dask')"),
    (["run", "toy", "--seeds", "two"], "argument --seeds: invalid int value: 'two'"),
    (["compare", "toy"], "the following arguments are required: run_b"),
])
def test_argparse_refuses_malformed_command_lines_with_exit_2(capsys, argv, message):
    code, out, err = main(capsys, *argv)
    assert code == 2 and out == "" and message in err.splitlines()[-1]


# -- list and show -------------------------------------------------------------------------------

def only(monkeypatch, *experiments, sources=None):
    """The registry holds these experiments and nothing else, for this test."""
    monkeypatch.setattr(registry, "_loaded", True)
    monkeypatch.setattr(registry, "_REGISTRY", {e.name: e for e in experiments})
    monkeypatch.setattr(registry, "_SOURCES", sources or {e.name: "built-in" for e in experiments})


def test_list_gives_name_cells_and_description_and_marks_outside_experiments(capsys, monkeypatch):
    only(monkeypatch, TOY, shown_experiment(), sources={"toy": "registered in code", "shown": "built-in"})
    assert main(capsys, "list") == (0, "name   cells  description\n"
                                       "shown      6  an experiment to show\n"
                                       "toy        4  tiny moons net for the harness tests  [registered in code]\n",
                                    "")


def test_list_of_no_experiments_is_the_header_alone(capsys, monkeypatch):
    only(monkeypatch)
    assert main(capsys, "list") == (0, "name  cells  description\n", "")


def test_list_names_every_registered_experiment(capsys):
    code, out, _ = main(capsys, "list")
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert code == 0 and names == sorted(registry.all_experiments())
    tuned = ["tuned", "6", "a", "tuned", "toy", "[registered", "in", "code]"]
    assert tuned in [line.split() for line in out.splitlines()]


def test_show_a_plain_experiment(capsys):
    code, out, err = main(capsys, "show", "toy")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "toy (version 1): tiny moons net for the harness tests",
        "data sets: moons (default moons); seeds: 2 (quick: 1); cells: 4",
        "parameter  default  quick  allowed                             meaning",
        "lr         0.1,0.5         a number > 0                        learning rate",
        "hidden     4               an integer >= 1 and <= 65,536       hidden layer width",
        "steps      30       10     an integer >= 1 and <= 100,000,000  training steps",
        "mode       ok              one of ok, fail, diverge            what the cell does",
        "sleep      0.0             a number >= 0 and <= 10             seconds to sleep per step",
        "set one with --set NAME=VALUE[,VALUE...], e.g. python -m bench run toy --set lr=0.1",
    ]


def test_show_gives_the_source_outside_data_and_settings_by_data_set(capsys):
    code, out, err = main(capsys, "show", "shown")
    assert (code, err) == (0, "")
    pad = " " * 63
    assert out.splitlines() == [
        "shown (version 3): an experiment to show",
        "reproduces: Someone et al. 2020",
        "data sets: moons, xor, digits, or your own points/vectors data (npz:PATH, idx:DIR) (default moons); "
        "seeds: 3 (quick: 2); cells: 6",
        "parameter  default  quick  allowed                             meaning",
        "lr         0.1,0.5         a number > 0                        learning rate",
        "hidden     4               an integer >= 1 and <= 65,536       hidden layer width",
        "steps      30       10     an integer >= 1 and <= 100,000,000  training steps",
        "mode       ok              one of ok, fail, diverge            what the cell does",
        "sleep      0.0             a number >= 0 and <= 10             seconds to sleep per step",
        pad + "on xor, digits: steps=5",
        pad + "on points: steps=7, lr=0.2",
        "set one with --set NAME=VALUE[,VALUE...], e.g. python -m bench run shown --set lr=0.1",
    ]


def test_show_a_tuned_experiment_counts_tune_and_final_cells(capsys):
    code, out, err = main(capsys, "show", "tuned")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[1] == "data sets: moons (default moons); seeds: 2 (quick: 2); cells: 6 to tune, then 4 final"
    assert lines[2].split() == ["parameter", "default", "quick", "allowed", "meaning"]
    assert lines[3].split()[:2] == ["hidden", "4,8"] and lines[8].split()[:2] == ["lr", "null"]
    assert lines[-1] == "set one with --set NAME=VALUE[,VALUE...], e.g. python -m bench run tuned --set hidden=4"


# -- errors: one line, exit 2 ----------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["show", "nope"], "unknown experiment 'nope': known experiments are "),
    (["run", "nope"], "unknown experiment 'nope': known experiments are "),
    (["runs", "--experiment", "nope"], "unknown experiment 'nope': known experiments are "),
    (["report", "--html", "nope"], "unknown experiment 'nope': known experiments are "),
    (["report", "--html", "--experiment", "nope"], "unknown experiment 'nope': known experiments are "),
    (["run", "toy", "--set", "lr"], "malformed override 'lr'"),
    (["run", "toy", "--set", "lrr=1"], "unknown parameter 'lrr' for toy: valid parameters are lr, hidden"),
    (["run", "toy", "--set", "lr=-1"], "bad value for lr: -1; lr takes a number > 0"),
    (["run", "toy", "--dataset", "mnist"], "toy runs on moons, not 'mnist'"),
    (["run", "toy", "--jobs", "0"], "--jobs must be a whole number from 1 to "),
    (["run", "toy", "-j", "0"], "--jobs must be a whole number from 1 to "),
    (["run", "toy", "--seeds", "0"], "--seeds must be a whole number from 1 to 1,000, got 0"),
    (["run", "toy", "--blas-threads", "0"], "--blas-threads must be a whole number from 1 to "),
    (["run", "toy", "--root-seed", "-1"], "--root-seed must be a whole number from 0 to 9,223,372,036,854,775,807, "
                                          "got -1"),
    (["run", "toy", "--run", "../x"], "bad run name '../x': use letters, digits, '.', '_' and '-' (a folder under "
                                      "results/EXPERIMENT/); to write elsewhere, pass --results DIR"),
    (["run", "toy", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler goes with --backend dask"),
    (["run", "toy", "--backend", "dask", "--connect-timeout", "0"],
     "--connect-timeout must be a number of seconds in (0, 3600], got 0.0"),
    (["report"], "name an experiment, or pass --all or --html"),
    (["report", "toy"], "no runs of toy under results/toy: run `python -m bench run toy` first"),
    (["report", "toy", "--run", "../x"], "bad run name '../x'"),
    (["report", "--all"], "no runs under results"),
    (["compare", "toy", "toy"], "no runs of toy under results/toy: run `python -m bench run toy` first"),
    (["compare", "toy", "toy", "--alpha", "0"], "--alpha must be between 0 and 1, got 0.0"),
    (["compare", "toy", "toy", "--alpha", "1"], "--alpha must be between 0 and 1, got 1.0"),
    (["compare", "toy", "toy", "--min-effect", "-0.1"], "--min-effect must be 0 or more, got -0.1"),
    (["compare", "toy", "toy", "--margin", "test_acc"],
     "--margin takes METRIC=VALUE with a value of 0 or more (--margin test_acc=0.02), got 'test_acc'"),
    (["compare", "toy", "toy", "--margin", "test_acc=-1"],
     "--margin takes METRIC=VALUE with a value of 0 or more (--margin test_acc=0.02), got 'test_acc=-1'"),
    (["compare", "toy", "toy", "--margin", "=0.1"],
     "--margin takes METRIC=VALUE with a value of 0 or more (--margin test_acc=0.02), got '=0.1'"),
    (["compare", "toy", "toy", "--margin", "acc=nan"],
     "--margin takes METRIC=VALUE with a value of 0 or more (--margin test_acc=0.02), got 'acc=nan'"),
    (["runs"], "no results folder results: run an experiment first (`python -m bench run NAME`)"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(capsys, scratch, argv, message):
    code, out, err = main(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: " + message) and err.endswith("\n") and err.count("\n") == 1
    assert list(scratch.iterdir()) == []


def test_bad_input_messages_in_full(capsys):
    assert main(capsys, "run", "toy", "--seeds", "0") == (
        2, "", "error: --seeds must be a whole number from 1 to 1,000, got 0\n")
    cores = os.cpu_count()
    assert main(capsys, "run", "toy", "--blas-threads", "0") == (
        2, "", f"error: --blas-threads must be a whole number from 1 to {cores}, got 0 (this machine has {cores} "
               "cores)\n")
    assert main(capsys, "report") == (2, "", "error: name an experiment, or pass --all or --html\n")
    known = ", ".join(registry.all_experiments())
    assert main(capsys, "show", "nope") == (
        2, "", f"error: unknown experiment 'nope': known experiments are {known} (see `python -m bench list`)\n")


def test_data_that_cannot_be_read_is_one_line_exit_2(capsys, scratch):
    code, out, err = main(capsys, "run", "shown", "--dataset", "npz:nowhere.npz")
    where = scratch / "nowhere.npz"
    assert (code, out) == (2, "")
    assert err == (f"error: {where}: cannot read it as .npz ([Errno 2] No such file or directory: '{where}'); save "
                   "the arrays with numpy.savez\n")


def test_an_os_error_names_the_file_and_the_results_folder(capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/somewhere/results/toy")

    monkeypatch.setattr(bench.api, "run", refuse)
    assert main(capsys, "run", "toy") == (2, "", "error: /somewhere/results/toy: Permission denied" + WRITABLE + "\n")


def test_an_os_error_without_a_file_is_its_message(capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("the disk is full")

    monkeypatch.setattr(bench.api, "run", refuse)
    assert main(capsys, "run", "toy") == (2, "", "error: the disk is full" + WRITABLE + "\n")


def test_an_interrupt_says_finished_cells_are_kept_and_exits_130(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.api, "run", interrupted)
    assert main(capsys, "run", "toy") == (
        130, "", "interrupted: finished cells are saved; run the same command again to resume\n")


class ClosedPipe(io.StringIO):
    """A standard output whose reader has gone (`python -m bench list | head -1`)."""

    def __init__(self, fd):
        super().__init__()
        self.fd = fd

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        return self.fd


def test_a_closed_pipe_ends_quietly_with_exit_1_and_stdout_sent_to_devnull(capsys, monkeypatch, tmp_path):
    fd = os.open(tmp_path / "stdout", os.O_WRONLY | os.O_CREAT)
    try:
        monkeypatch.setattr("sys.stdout", ClosedPipe(fd))
        code = cli.main(["list"])
        monkeypatch.undo()
        assert code == 1 and capsys.readouterr().err == ""
        assert os.path.samestat(os.fstat(fd), os.stat(os.devnull))
    finally:
        os.close(fd)


# -- run -----------------------------------------------------------------------------------------

def test_run_prints_counts_folder_and_tables_and_stores_the_grid(capsys, scratch):
    code, out, err = main(capsys, "run", "toy", "--seeds", "1", "--jobs", "1")
    assert (code, err) == (0, RAN_TWO)
    assert out.splitlines() == ["toy: 2 ok -> results/toy/moons", TABLES.format("results/toy/moons")]
    folder = scratch / "results/toy/moons"
    config = manifest_of(folder)["config"]
    assert (config["seeds"], config["jobs"], config["root_seed"], config["blas_threads"], config["quick"]) == (
        1, 1, 0, 1, False)
    assert config["grid"]["lr"] == [0.1, 0.5] and config["parallel"] == "in-process"
    assert pd.read_parquet(folder / "records.parquet")["cell_id"].nunique() == 2
    assert {p.name for p in (folder / "figures").iterdir()} == {"loss.png", "loss.svg"}
    again = main(capsys, "run", "toy", "--seeds", "1", "-j", "1")
    assert again[:2] == (0, "toy: 2 ok -> results/toy/moons\n" + TABLES.format("results/toy/moons") + "\n")
    assert again[2] == ("toy: all 2 cells done and unchanged since the tables were built: nothing to do -> "
                        "results/toy/moons\n")
    forced = main(capsys, "run", "toy", "--seeds", "1", "--jobs", "1", "--force")
    assert forced[0] == 0 and forced[2] == RAN_TWO


def test_run_options_reach_the_run(capsys, scratch):
    results = scratch / "elsewhere"
    code, out, err = main(capsys, "run", "toy", "--quick", "--set", "lr=0.3", "--set", "hidden=5", "--run", "mine",
                          "--root-seed", "7", "--results", str(results), "--jobs", "1", "--blas-threads", "1",
                          "--no-progress")
    folder = results / "toy/mine"
    assert (code, out) == (0, f"toy: 1 ok -> {folder}\n" + TABLES.format(folder) + "\n")
    assert err == f"toy: 1 cells, 0 already done, running 1 -> {folder}\n"
    config = manifest_of(folder)["config"]
    assert config["grid"]["lr"] == [0.3] and config["grid"]["hidden"] == [5] and config["grid"]["steps"] == [10]
    assert (config["quick"], config["seeds"], config["root_seed"], config["run"]) == (True, 1, 7, "mine")
    assert not (scratch / "results").exists()


def test_run_quick_names_its_folder_after_the_data_set(capsys, scratch):
    code, out, _ = main(capsys, "run", "toy", "--quick", "--jobs", "1", "--set", "lr=0.1")
    assert (code, out.splitlines()[0]) == (0, "toy: 1 ok -> results/toy/moons-quick")


def test_run_with_failed_and_diverged_cells_lists_them_and_exits_1(capsys):
    code, out, err = main(capsys, "run", "toy", "--set", "mode=ok,fail,diverge", "--set", "lr=0.1", "--seeds", "1",
                          "--jobs", "1")
    assert code == 1
    assert out.splitlines() == ["toy: 1 diverged, 1 failed, 1 ok -> results/toy/moons",
                                FAILED.format(lr=0.1, seed=0), TABLES.format("results/toy/moons")]
    assert "cell [lr=0.1, hidden=4, steps=30, mode=\"fail\", sleep=0.0, seed 0] failed: " in err


def test_run_where_every_cell_failed_has_no_tables(capsys):
    code, out, _ = main(capsys, "run", "toy", "--set", "mode=fail", "--seeds", "1", "--jobs", "1")
    assert code == 1
    assert out.splitlines() == ["toy: 2 failed -> results/toy/moons", FAILED.format(lr=0.1, seed=0),
                                FAILED.format(lr=0.5, seed=0)]


def test_run_fail_fast_leaves_cells_pending_and_exits_1(capsys, scratch):
    code, out, err = main(capsys, "run", "toy", "--set", "mode=fail", "--seeds", "1", "--jobs", "1", "--fail-fast")
    assert code == 1
    assert out.splitlines() == ["toy: 1 failed, 1 pending -> results/toy/moons", FAILED.format(lr=0.1, seed=0)]
    assert "stopped at the first failed cell (--fail-fast)" in err


def test_run_prints_the_experiment_headline(capsys):
    code, out, _ = main(capsys, "run", "headlined", "--seeds", "1", "--jobs", "1")
    assert code == 0
    assert out.splitlines() == ["headlined: 2 ok -> results/headlined/moons", "the headline of this run",
                                TABLES.format("results/headlined/moons")]


def test_progress_bar_on_a_terminal_unless_no_progress(capsys, monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = main(capsys, "run", "toy", "--seeds", "1", "--jobs", "1", "--run", "quiet", "--no-progress")
    assert code == 0 and "2/2" not in err
    code, _, err = main(capsys, "run", "toy", "--seeds", "1", "--jobs", "1", "--run", "shown")
    assert code == 0 and "2/2" in err


def test_dask_options_reach_the_dask_backend(capsys, scratch, clusters):
    calls = clusters
    argv = ["run", "toy", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:8786", "--connect-timeout", "2.5",
            "--dask-logs"]
    assert main(capsys, *argv) == (2, "", "error: no cluster in this test\n")
    assert main(capsys, "run", "toy", "--backend", "dask") == (2, "", "error: no cluster in this test\n")
    assert calls[0] == ("tcp://127.0.0.1:8786", 2.5, True)
    assert calls[1][:2] == (None, 10) and not calls[1][2]
    assert list(scratch.iterdir()) == []


# -- runs, report, compare -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """toy runs "slow" (all ok) and then "fast" (the latest, with a failed cell), and a headlined run."""
    root = tmp_path_factory.mktemp("stored")
    quiet = dict(results_dir=root, progress=False, jobs=1, seeds=1, log=lambda line: None)
    bench.run("toy", run="slow", overrides={"lr": [0.1]}, **quiet)
    bench.run("toy", run="fast", overrides={"lr": [0.1], "mode": ["ok", "fail"]}, **quiet)
    with pytest.MonkeyPatch.context() as m:
        m.setitem(registry._REGISTRY, "headlined", replace(TOY, name="headlined"))
        bench.run("headlined", overrides={"lr": [0.1]}, **quiet)
    return root


def test_runs_lists_each_run_and_filters_by_experiment(capsys, stored):
    code, out, err = main(capsys, "runs", "--results", str(stored))
    lines = out.splitlines()
    assert (code, err) == (0, "")
    assert lines[0].split() == ["experiment", "run", "finished", "dataset", "quick", "cells", "settings"]
    assert sorted(line.split()[:2] for line in lines[1:]) == [["headlined", "moons"], ["toy", "fast"], ["toy", "slow"]]
    code, out, _ = main(capsys, "runs", "--results", str(stored), "--experiment", "toy")
    assert code == 0 and sorted(line.split()[1] for line in out.splitlines()[1:]) == ["fast", "slow"]


def test_runs_of_an_experiment_without_runs(capsys, stored):
    assert main(capsys, "runs", "--results", str(stored), "--experiment", "shown") == (0, "no runs\n", "")


def test_report_redraws_the_figures_of_the_latest_run_and_lists_failed_cells(capsys, stored):
    folder = stored / "toy/fast"
    for figure in (folder / "figures").iterdir():
        figure.unlink()
    assert main(capsys, "report", "toy", "--results", str(stored)) == (
        0, f"toy: 1 figures -> {folder}/figures\n{FAILED.format(lr=0.1, seed=0)}\n", "")
    assert {p.name for p in (folder / "figures").iterdir()} == {"loss.png", "loss.svg"}


def test_report_of_a_named_run(capsys, stored):
    assert main(capsys, "report", "toy", "--run", "slow", "--results", str(stored)) == (
        0, f"toy: 1 figures -> {stored}/toy/slow/figures\n", "")


def test_report_all_redraws_the_latest_run_of_every_experiment(capsys, stored):
    expected = (0, f"headlined: 1 figures -> {stored}/headlined/moons/figures\n"
                   f"toy: 1 figures -> {stored}/toy/fast/figures\n{FAILED.format(lr=0.1, seed=0)}\n", "")
    assert main(capsys, "report", "--all", "--results", str(stored)) == expected
    assert main(capsys, "report", "--all", "--run", "slow", "--results", str(stored)) == expected


@pytest.fixture
def page(monkeypatch, stored):
    """report --html, its runs read back from the page (the page's chart library left out: it takes seconds)."""
    import vl_convert

    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda: "")

    def runs():
        return {e["name"]: sorted(r["name"] for r in e["runs"])
                for e in data_of((stored / "report.html").read_text())["experiments"]}

    return runs


def test_report_html_writes_one_page_of_every_run_and_prints_its_path(capsys, stored, page):
    assert main(capsys, "report", "--html", "--results", str(stored)) == (0, f"{stored}/report.html\n", "")
    assert page() == {"headlined": ["moons"], "toy": ["fast", "slow"]}


def test_report_html_of_one_experiment_or_one_run_name(capsys, stored, page):
    assert main(capsys, "report", "--html", "toy", "--results", str(stored))[0] == 0
    assert page() == {"toy": ["fast", "slow"]}
    assert main(capsys, "report", "--html", "--experiment", "headlined", "--results", str(stored))[0] == 0
    assert page() == {"headlined": ["moons"]}
    assert main(capsys, "report", "--html", "--run", "slow", "--results", str(stored))[0] == 0
    assert page() == {"toy": ["slow"]}
    assert main(capsys, "report", "--html", "--run", "nope", "--results", str(stored)) == (
        2, "", f"error: no runs named 'nope' under {stored}: run an experiment first (`python -m bench run NAME`)\n")


def test_report_html_says_which_runs_it_skipped(capsys, scratch, page):
    root = scratch / "results"
    bench.run("toy", results_dir=root, progress=False, jobs=1, seeds=1, overrides={"lr": [0.1]}, log=lambda line: None)
    (root / "toy/broken").mkdir()
    (root / "toy/broken/manifest.json").write_text("{")
    code, out, err = main(capsys, "report", "--html")
    assert (code, out) == (0, "results/report.html\n")
    assert err.startswith("skipped a damaged run: ") and "results/toy/broken/manifest.json" in err
    assert err.count("\n") == 1


VERDICTS = ("{} regression, {} improvement, {} different, {} equivalent, {} inconclusive (b vs a; Welch t-test per "
            "setting and metric and two one-sided tests within the margin, each family Benjamini-Hochberg adjusted, "
            "FDR {}; inconclusive: neither a change beyond the margin nor equivalence is shown, `detectable` is the "
            "difference these seeds find 80% of the time)")


@pytest.fixture
def pair(scratch):
    """Two toy runs in ./results: in b, the loss is higher (worse) and the accuracy higher (better)."""
    stored_run(scratch / "results", "toy", "a", summary_frame([0.50, 0.90], lr=0.1))
    stored_run(scratch / "results", "toy", "b", summary_frame([0.60, 0.95], lr=0.1))


def test_compare_prints_the_table_and_a_summary_line(capsys, pair):
    code, out, err = main(capsys, "compare", "toy/a", "toy/b")
    lines = out.splitlines()
    assert (code, err) == (0, "")
    assert lines[0].split()[:4] == ["lr", "metric", "mean_a", "mean_b"] and lines[0].split()[-1] == "verdict"
    assert lines[1].split()[1] == "loss" and lines[1].split()[-1] == "REGRESSION"
    assert lines[2].split()[1] == "accuracy" and lines[2].split()[-1] == "improvement"
    assert lines[-1] == VERDICTS.format(1, 1, 0, 0, 0, "0.05")


def test_compare_fails_on_a_regression_only_when_asked(capsys, pair):
    assert main(capsys, "compare", "toy/a", "toy/b", "--fail-on-regression")[0] == 1
    assert main(capsys, "compare", "toy/a", "toy/a", "--fail-on-regression")[0] == 0
    assert main(capsys, "compare", "toy/b", "toy/a", "--fail-on-regression")[0] == 1


def test_compare_alpha_margins_and_inconclusive_rows_decide_the_exit(capsys, pair):
    code, out, _ = main(capsys, "compare", "toy/a", "toy/b", "--alpha", "1e-30", "--fail-on-regression")
    assert (code, out.splitlines()[-1]) == (0, VERDICTS.format(0, 0, 0, 0, 2, "1e-30"))
    code, out, _ = main(capsys, "compare", "toy/a", "toy/b", "--alpha", "1e-30", "--fail-on-inconclusive")
    assert (code, out.splitlines()[-1]) == (1, VERDICTS.format(0, 0, 0, 0, 2, "1e-30"))
    # A margin of 15% of a's mean: the loss (+0.1 of 0.5) is beyond it, the accuracy (+0.05 of 0.9) is not.
    code, out, _ = main(capsys, "compare", "toy/a", "toy/b", "--min-effect", "0.15", "--fail-on-regression")
    assert (code, out.splitlines()[-1]) == (1, VERDICTS.format(1, 0, 0, 1, 0, "0.05"))
    code, out, _ = main(capsys, "compare", "toy/a", "toy/b", "--margin", "loss=0.2", "--margin", "accuracy=0.2")
    assert (code, out.splitlines()[-1]) == (0, VERDICTS.format(0, 0, 0, 2, 0, "0.05"))
    code, out, _ = main(capsys, "compare", "toy/a", "toy/b", "--min-effect", "0", "--alpha", "0.5")
    assert (code, out.splitlines()[-1]) == (0, VERDICTS.format(1, 1, 0, 0, 0, "0.5"))


def test_compare_in_another_results_folder_and_by_path(capsys, scratch):
    root = scratch / "other"
    a = stored_run(root, "toy", "a", summary_frame([0.50, 0.90], lr=0.1))
    stored_run(root, "toy", "b", summary_frame([0.60, 0.95], lr=0.1))
    code, out, _ = main(capsys, "compare", "toy/a", "toy", "--results", str(root), "--fail-on-regression")
    assert (code, out.splitlines()[-1]) == (1, VERDICTS.format(1, 1, 0, 0, 0, "0.05"))
    code, out, _ = main(capsys, "compare", str(a), "toy/b", "--results", str(root))
    assert (code, out.splitlines()[-1]) == (0, VERDICTS.format(1, 1, 0, 0, 0, "0.05"))


def test_compare_runs_of_an_unregistered_experiment_without_directions(capsys, scratch):
    stored_run(scratch / "results", "ghost", "a", summary_frame([0.50, 0.90], lr=0.1))
    stored_run(scratch / "results", "ghost", "b", summary_frame([0.60, 0.95], lr=0.1))
    code, out, _ = main(capsys, "compare", "ghost/a", "ghost/b", "--fail-on-regression")
    assert (code, out.splitlines()[-1]) == (0, VERDICTS.format(0, 0, 2, 0, 0, "0.05"))

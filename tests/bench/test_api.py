"""bench.api in process: option checks, the files a run writes, resume, failures, loading and the tuned path."""

import json
import math
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import sklearn

import bench
from bench import api, plugins, registry
from bench.errors import UserError
from bench.params import Choice, Float, Int
from bench.store import RunStore
from bench.tuning import FINAL, STAGE, STUDY, TRIAL, TUNE, Range, Tuning
from nncore.datasets import mnist
from tests.bench.conftest import one_line
from tests.toy_experiment import EXPERIMENT as TOY

TOY_PARAMS = ["lr", "hidden", "steps", "mode", "sleep"]
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}")
MARK = "2000-01-01T00:00:00+0000"


def rich_run(params, rng):
    """The toy's cell, saving what it was given and where it ran: its process, the root seed its generator
    was keyed by, and the BLAS threads it had."""
    from threadpoolctl import threadpool_info

    rec = TOY.run(params, rng)
    rec.save("meta", {"lr": params["lr"], "steps": params["steps"]})
    blas = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
    rec.save("where", {"pid": os.getpid(), "root_seed": int(rng.bit_generator.seed_seq.entropy[0]),
                       "blas_threads": blas})
    return rec


def tuned_run(params, rng):
    """The last val_score peaks at x = 0.3; the first favours the largest x, and `noise` the smallest.
    Arm 3 never reports val_score in its tune stage; arm 4 fails; arm 5 diverges after reporting it."""
    if params["arm"] == 4:
        raise RuntimeError("trial broke")
    rec = bench.Recorder()
    x = params["x"]
    if params["arm"] != 3 or params[STAGE] == FINAL:
        rec.log("val_score", x, 1)
        rec.log("val_score", 1 - (x - 0.3) ** 2, 2)
    rec.log("noise", math.nan if params["arm"] == 5 else -x, 3)
    if params[STAGE] == FINAL:
        rec.log("test_score", x, 1)
    return rec


def constant_run(params, rng):
    rec = bench.Recorder()
    rec.log("loss", 1.0, 0)
    return rec


def experiments():
    """The toy experiment and variants of it, built when a test runs (never at collection)."""
    rich = replace(TOY, name="api_rich", run=rich_run, headline=lambda r: f"{r['cell_id'].nunique()} cells",
                   tables=lambda r: {"last_loss": r[r["metric"] == "loss"].groupby("lr", as_index=False)["step"]
                                     .max()},
                   summary_metrics=("loss",), summary_by_step=True)
    alone = replace(TOY, name="api_alone", run_alone=True)
    tuned = bench.Experiment(
        name="api_tuned", description="a tuned toy", run=tuned_run, plot=lambda records: {},
        grid={"arm": [1, 2], "trials": [8]}, datasets=("moons",), seeds=3,
        tuning=Tuning(lambda point: {"x": Range(0.0, 1.0)}, metric="val_score", params=("x",)),
        params={"arm": Int("an arm", 1, 10), "trials": Int("trials", 1, 100), "x": Float("tuned", 0, 1)})
    images = bench.Experiment(
        name="api_images", description="cells that read nothing, on an image set", run=constant_run,
        plot=lambda records: {}, grid={"dtype": ["float32"]}, datasets=("mnist",), seeds=1,
        params={"dtype": Choice("array dtype", "float32", "float64")})
    fixed = replace(tuned, name="api_tuned_fixed",
                    tuning=Tuning(lambda point: {"x": Range(0.5, 0.5)}, metric="val_score", params=("x",)))
    return [TOY, rich, alone, tuned, fixed, images]


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """Every test experiment registered for this test only, and no outside optimizer loaded."""
    registry.all_experiments()
    for experiment in experiments():
        monkeypatch.setitem(registry._REGISTRY, experiment.name, experiment)
    monkeypatch.setattr(plugins, "_OUTSIDE", {})


def run(tmp_path, name="toy", **options):
    lines = []
    options = {"results_dir": tmp_path, "progress": False, "jobs": 1, "figures": False, "log": lines.append,
               **options}
    return api.run(name, **options), lines


def notes(lines):
    return [line.split(" -> ")[0] for line in lines]


def read_json(path):
    return json.loads(Path(path).read_text())


def statuses_on_disk(folder):
    return {p.stem: read_json(p) for p in (folder / "cells").glob("*.json")}


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# -- option checks ------------------------------------------------------------------------------------

def test_a_plain_run_name_is_returned_as_it_is():
    for name in ("moons", "a.b_c-D9", "...", "x"):
        assert api.check_run_name(name) == name


def test_a_run_name_that_is_a_path_a_dot_or_not_text_is_one_line():
    for bad in ("a/b", "", ".", "..", "../x", "a b", "/tmp/x", 5, None, ["x"]):
        with one_line(f"bad run name {bad!r}: use letters, digits, '.', '_' and '-' (a folder under "
                      "results/EXPERIMENT/); to write elsewhere, pass --results DIR"):
            api.check_run_name(bad)


def test_jobs_go_up_to_four_per_core(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    api.check_options(jobs=1)
    api.check_options(jobs=12)
    for bad in (0, 13, -1, True, 2.0, "2"):
        with one_line(f"--jobs must be a whole number from 1 to 12, got {bad!r} (at most 4 per core; this machine "
                      "has 3; for more, use --backend dask)"):
            api.check_options(jobs=bad)


def test_seeds_go_from_one_to_a_thousand():
    api.check_options(seeds=1)
    api.check_options(seeds=1000)
    for bad in (0, 1001, False, 1.0):
        with one_line(f"--seeds must be a whole number from 1 to 1,000, got {bad!r}"):
            api.check_options(seeds=bad)


def test_blas_threads_go_up_to_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    api.check_options(blas_threads=1)
    api.check_options(blas_threads=3)
    for bad in (0, 4, True):
        with one_line(f"--blas-threads must be a whole number from 1 to 3, got {bad!r} (this machine has 3 cores)"):
            api.check_options(blas_threads=bad)


def test_the_root_seed_fits_a_signed_64_bit_integer():
    api.check_options(root_seed=0)
    api.check_options(root_seed=2**63 - 1)
    for bad in (-1, 2**63, True, 0.0):
        with one_line(f"--root-seed must be a whole number from 0 to 9,223,372,036,854,775,807, got {bad!r}"):
            api.check_options(root_seed=bad)


def test_an_unknown_core_count_counts_as_one_core(monkeypatch):
    """os.cpu_count() may be None: the limits are then those of one core, and the defaults pass."""
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    api.check_options()
    api.check_options(jobs=4, blas_threads=1)
    with one_line("--blas-threads must be a whole number from 1 to 1, got 2 (this machine has 1 cores)"):
        api.check_options(blas_threads=2)
    with one_line("--jobs must be a whole number from 1 to 4, got 5 (at most 4 per core; this machine has 1; "
                  "for more, use --backend dask)"):
        api.check_options(jobs=5)


def test_check_options_checks_the_run_name_only_when_one_is_given():
    api.check_options(run=None)
    api.check_options(run="mine")
    with one_line("bad run name '..': use letters, digits, '.', '_' and '-' (a folder under results/EXPERIMENT/); "
                  "to write elsewhere, pass --results DIR"):
        api.check_options(run="..")


def test_run_refuses_bad_options_in_one_line_before_writing_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    cases = [
        ({"backend": "spark"}, "unknown backend 'spark': use loky or dask"),
        ({"jobs": 0}, "--jobs must be a whole number from 1 to 8, got 0 (at most 4 per core; this machine has 2; "
                      "for more, use --backend dask)"),
        ({"seeds": 0}, "--seeds must be a whole number from 1 to 1,000, got 0"),
        ({"blas_threads": 3}, "--blas-threads must be a whole number from 1 to 2, got 3 (this machine has 2 cores)"),
        ({"root_seed": -1}, "--root-seed must be a whole number from 0 to 9,223,372,036,854,775,807, got -1"),
        ({"run": "../elsewhere"}, "bad run name '../elsewhere': use letters, digits, '.', '_' and '-' (a folder "
                                  "under results/EXPERIMENT/); to write elsewhere, pass --results DIR"),
        ({"overrides": {"lrr": 1}}, "unknown parameter 'lrr' for toy: valid parameters are lr, hidden, steps, "
                                    "mode, sleep (python -m bench show toy)"),
        ({"overrides": ["lr"]}, "malformed override 'lr': write --set NAME=VALUE[,VALUE...]; parameters: lr, "
                                "hidden, steps, mode, sleep"),
        ({"overrides": {"lr": "abc"}}, 'bad value for lr: "abc"; lr takes a number > 0'),
        ({"overrides": {"mode": ["ok", "nope"]}}, 'bad value for mode: "nope"; mode takes one of ok, fail, diverge'),
        ({"dataset": "mnist"}, None),
    ]
    for options, message in cases:
        options = {"results_dir": tmp_path, "progress": False, **options}
        if message is None:
            with pytest.raises(UserError, match="^toy runs on moons, not 'mnist'"):
                api.run("toy", **options)
        else:
            with one_line(message):
                api.run("toy", **options)
    with one_line("unknown experiment 'nope': known experiments are " + ", ".join(registry.all_experiments())
                  + " (see `python -m bench list`)"):
        api.run("nope", results_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_overrides_as_a_dict_or_as_set_strings_become_lists_of_checked_values():
    assert api._normalize_overrides(TOY, None) == {}
    assert api._normalize_overrides(TOY, {}) == {}
    assert api._normalize_overrides(TOY, []) == {}
    assert api._normalize_overrides(TOY, {"lr": [0.1, 0.5], "mode": "fail", "steps": 7}) == {
        "lr": [0.1, 0.5], "mode": ["fail"], "steps": [7]}
    assert api._normalize_overrides(TOY, {"mode": ["ok", "diverge"], "lr": 0.25}) == {
        "mode": ["ok", "diverge"], "lr": [0.25]}
    assert api._normalize_overrides(TOY, ["lr=0.1,0.5", "mode=fail"]) == {"lr": [0.1, 0.5], "mode": ["fail"]}
    assert api._normalize_overrides(TOY, ("steps=3",)) == {"steps": [3]}


def test_overrides_shape_the_grid_a_run_records(tmp_path):
    result, _ = run(tmp_path, overrides={"lr": 0.3, "steps": 5}, seeds=1)
    assert result.manifest["config"]["grid"] == {"lr": [0.3], "hidden": [4], "steps": [5], "mode": ["ok"],
                                                 "sleep": [0.0]}
    assert sorted(result.records["step"].unique()) == [0, 1, 2, 3, 4, 5]
    assert set(result.records["lr"]) == {0.3}


# -- what a run writes ---------------------------------------------------------------------------------

def git_head():
    return subprocess.run(["git", "-C", str(Path(api.__file__).parent), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def test_a_run_writes_its_tables_summary_figures_manifest_and_latest_pointer(tmp_path):
    result, lines = run(tmp_path, figures=True)
    folder = tmp_path / "toy" / "moons"
    assert result.path == folder
    assert lines == [f"toy: 4 cells, 0 already done, running 4 -> {folder}"]
    r = pd.read_parquet(folder / "records.parquet")
    pd.testing.assert_frame_equal(r, result.records)
    assert list(r.columns) == ["experiment", "cell_id", "seed", *TOY_PARAMS, "dataset", "step", "epoch", "metric",
                               "value"]
    assert len(r) == 4 * 31 and r["cell_id"].nunique() == 4 and set(r["lr"]) == {0.1, 0.5}
    assert set(r["seed"]) == {0, 1} and set(r["metric"]) == {"loss", "accuracy"}
    assert r["value"].dtype == np.float64 and r["step"].dtype == np.int64
    summary = pd.read_parquet(folder / "summary.parquet")
    pd.testing.assert_frame_equal(summary, result.summary)
    pd.testing.assert_frame_equal(pd.read_csv(folder / "summary.csv"), summary, check_dtype=False,
                                  check_exact=False)
    accuracy = r[r["metric"] == "accuracy"].groupby("lr")["value"].agg(["mean", "count"])
    got = summary[summary["metric"] == "accuracy"].set_index("lr")
    assert got["mean"].to_numpy() == pytest.approx(accuracy["mean"].to_numpy())
    assert list(got["n"]) == [2, 2]
    assert (tmp_path / "toy" / "latest").read_text() == "moons\n"
    assert {p.name for p in (folder / "figures").iterdir()} == {"loss.png", "loss.svg"}
    assert "2 seeds" in (svg := (folder / "figures" / "loss.svg").read_text()) and " · run moons · " in svg
    assert "--quick" not in svg
    assert (folder / "index.json").is_file()

    manifest = read_json(folder / "manifest.json")
    assert manifest == json.loads(json.dumps(result.manifest, default=str))
    assert set(manifest) == {"config", "code_version", "data", "plugins", "packages", "machine", "started", "resumed",
                             "cells", "finished", "tables", "figures"}
    assert manifest["config"] == {
        "experiment": "toy", "version": 1, "dataset": "moons", "root_seed": 0,
        "grid": {"lr": [0.1, 0.5], "hidden": [4], "steps": [30], "mode": ["ok"], "sleep": [0.0]},
        "seeds": 2, "quick": False, "jobs": 1, "blas_threads": 1, "run": "moons", "parallel": "in-process"}
    assert manifest["code_version"].startswith(git_head())
    assert manifest["data"] == {"source": f"scikit-learn {sklearn.__version__}"}
    assert manifest["plugins"] == {}
    assert manifest["packages"]["numpy"] == np.__version__ and manifest["packages"]["pandas"] == pd.__version__
    assert manifest["machine"]["cpu_count"] == os.cpu_count()
    for stamp in ("started", "resumed", "finished"):
        assert STAMP.fullmatch(manifest[stamp]), manifest[stamp]
    assert manifest["started"] == manifest["resumed"]
    assert manifest["tables"] == [] and manifest["figures"] == ["loss"]
    assert result.statuses == dict.fromkeys(r["cell_id"].unique(), "ok")
    for cell_id, cell in manifest["cells"].items():
        first = r[r["cell_id"] == cell_id].iloc[0]
        assert cell["seed"] == first["seed"] and cell["params"] == {
            "lr": first["lr"], "hidden": 4, "steps": 30, "mode": "ok", "sleep": 0.0, "dataset": "moons"}
    assert result.failed == [] and result.pending == []


def test_the_run_root_seed_and_blas_threads_are_the_runs_own(tmp_path):
    """Another root seed is another set of cells, with other draws; both stay in the manifest."""
    base, _ = run(tmp_path, seeds=1, run="zero")
    other, _ = run(tmp_path, seeds=1, run="five", root_seed=5, blas_threads=2 if (os.cpu_count() or 1) > 1 else 1)
    assert other.manifest["config"]["root_seed"] == 5 and other.manifest["config"]["run"] == "five"
    assert other.manifest["config"]["blas_threads"] == (2 if (os.cpu_count() or 1) > 1 else 1)
    assert not set(base.records["cell_id"]) & set(other.records["cell_id"])
    assert set(other.statuses.values()) == {"ok"}
    losses = [x[x["metric"] == "loss"]["value"].to_numpy() for x in (base.records, other.records)]
    assert not np.array_equal(*losses)


def test_a_quick_run_has_its_own_folder_grid_and_seeds(tmp_path):
    result, lines = run(tmp_path, quick=True)
    folder = tmp_path / "toy" / "moons-quick"
    assert result.path == folder and lines == [f"toy: 2 cells, 0 already done, running 2 -> {folder}"]
    config = read_json(folder / "manifest.json")["config"]
    assert config["quick"] is True and config["seeds"] == 1 and config["grid"]["steps"] == [10]
    assert config["run"] == "moons-quick"
    r = pd.read_parquet(folder / "records.parquet")
    assert len(r) == 2 * 11 and set(r["seed"]) == {0}
    assert (tmp_path / "toy" / "latest").read_text() == "moons-quick\n"


def test_an_experiment_s_headline_own_tables_and_summary_choice_reach_the_folder(tmp_path):
    result, _ = run(tmp_path, "api_rich", quick=True)
    folder = tmp_path / "api_rich" / "moons-quick"
    manifest = read_json(folder / "manifest.json")
    assert manifest["headline"] == "2 cells" and manifest["tables"] == ["last_loss"]
    assert pd.read_csv(folder / "tables" / "last_loss.csv").to_dict("list") == {"lr": [0.1, 0.5], "step": [9, 9]}
    summary = pd.read_parquet(folder / "summary.parquet")
    r = result.records
    # Every step of the loss alone: by step, and no accuracy.
    assert set(summary["metric"]) == {"loss"} and len(summary) == 2 * 10
    by_step = r[r["metric"] == "loss"].set_index(["lr", "step"])["value"]
    got = summary.set_index(["lr", "step"])["mean"]
    pd.testing.assert_series_equal(got.sort_index(), by_step.sort_index(), check_names=False)


def test_an_artifact_a_cell_saved_is_loaded_back_and_a_missing_one_is_one_line(tmp_path):
    result, _ = run(tmp_path, "api_rich", quick=True)
    by_lr = result.records.drop_duplicates("cell_id").set_index("lr")["cell_id"]
    assert result.artifact(by_lr[0.5], "meta") == {"lr": 0.5, "steps": 10}
    assert result.artifact(by_lr[0.1], "meta") == {"lr": 0.1, "steps": 10}
    path = tmp_path / "api_rich" / "moons-quick" / "artifacts" / by_lr[0.1] / "nope.joblib"
    with one_line(f"{path} does not exist: no artifact 'nope' for cell {by_lr[0.1]}"):
        result.artifact(by_lr[0.1], "nope")


# -- resume and force ----------------------------------------------------------------------------------

def mark_cells(folder):
    """Add a key to every stored status: a cell rewritten since has lost it."""
    for path in (folder / "cells").glob("*.json"):
        path.write_text(json.dumps({**read_json(path), "marked": True}))


def test_a_second_run_reuses_finished_cells_and_keeps_the_start_time(tmp_path):
    folder = tmp_path / "toy" / "moons"
    run(tmp_path, overrides={"lr": 0.1})
    mark_cells(folder)
    first_ids = set(statuses_on_disk(folder))
    manifest = read_json(folder / "manifest.json")
    (folder / "manifest.json").write_text(json.dumps({**manifest, "started": MARK}))
    result, lines = run(tmp_path, overrides={"lr": [0.1, 0.5]})
    assert lines == [f"toy: 4 cells, 2 already done, running 2 -> {folder}"]
    stored = statuses_on_disk(folder)
    assert {c for c, s in stored.items() if s.get("marked")} == first_ids and len(stored) == 4
    assert result.manifest["started"] == MARK and read_json(folder / "manifest.json")["started"] == MARK
    assert result.records["cell_id"].nunique() == 4


def test_force_runs_every_cell_again_and_starts_the_clock_again(tmp_path):
    folder = tmp_path / "toy" / "moons"
    first, _ = run(tmp_path, seeds=2)
    mark_cells(folder)
    (folder / "manifest.json").write_text(json.dumps({**read_json(folder / "manifest.json"), "started": MARK}))
    forced, lines = run(tmp_path, seeds=1, force=True)
    assert lines == [f"toy: 2 cells, 0 already done, running 2 -> {folder}"]
    stored = statuses_on_disk(folder)
    assert len(stored) == 2 and not any(s.get("marked") for s in stored.values())
    assert forced.manifest["started"] == forced.manifest["resumed"] != MARK
    kept = first.records[first.records["seed"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(forced.records, kept)


def test_force_rebuilds_a_folder_whose_manifest_is_damaged(tmp_path):
    folder = tmp_path / "toy" / "moons"
    first, _ = run(tmp_path, seeds=1)
    (folder / "manifest.json").write_text('{"config": ')
    with one_line(f"{folder / 'manifest.json'} is damaged (JSONDecodeError); run the same command with --force to "
                  "rebuild this run folder"):
        run(tmp_path, seeds=1)
    again, lines = run(tmp_path, seeds=1, force=True)
    assert lines == [f"toy: 2 cells, 0 already done, running 2 -> {folder}"]
    pd.testing.assert_frame_equal(again.records, first.records)


def test_a_finished_unchanged_run_does_nothing_and_returns_the_stored_run(tmp_path, monkeypatch):
    folder = tmp_path / "toy" / "moons"
    first, _ = run(tmp_path)
    again, lines = run(tmp_path)
    assert lines == [f"toy: all 4 cells done and unchanged since the tables were built: nothing to do -> {folder}"]
    assert again.path == folder
    pd.testing.assert_frame_equal(again.records, first.records)
    pd.testing.assert_frame_equal(again.summary, first.summary)
    assert again.manifest == read_json(folder / "manifest.json")
    # Figures asked for now, not drawn then: the tables are built again and the figures drawn.
    drawn, lines = run(tmp_path, figures=True)
    assert lines == [f"toy: 4 cells, 4 already done, running 0 -> {folder}"]
    assert drawn.manifest["figures"] == ["loss"]


def test_cells_run_now_are_not_read_back_and_stored_ones_are(tmp_path, monkeypatch):
    """finish takes the records of the cells it just ran from memory; only earlier cells are read."""
    reads = []
    real = RunStore.read_cell_rows

    def counted(self, cell_id):
        reads.append(cell_id)
        return real(self, cell_id)

    monkeypatch.setattr(RunStore, "read_cell_rows", counted)
    first, _ = run(tmp_path, overrides={"lr": 0.1})
    assert reads == []
    second, _ = run(tmp_path, overrides={"lr": [0.1, 0.5]})
    assert sorted(reads) == sorted(first.records["cell_id"].unique())
    pd.testing.assert_frame_equal(second.records[second.records["lr"] == 0.1], first.records)


def test_a_folder_holding_cells_of_another_grid_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "toy" / "moons"
    run(tmp_path, seeds=2)
    before = {p.name: p.read_bytes() for p in (folder / "cells").iterdir()}
    with one_line(f"{folder} holds 2 cells that this grid does not (another --set, --seeds or --quick): give this "
                  "grid its own folder with --run NAME, or add --force to discard them"):
        run(tmp_path, seeds=1)
    assert {p.name: p.read_bytes() for p in (folder / "cells").iterdir()} == before


def test_a_damaged_stored_cell_is_computed_again(tmp_path):
    folder = tmp_path / "toy" / "moons"
    first, _ = run(tmp_path)
    cell = first.records[(first.records["lr"] == 0.5) & (first.records["seed"] == 1)]["cell_id"].iloc[0]
    flip_a_byte(folder / "cells" / f"{cell}.parquet")
    again, lines = run(tmp_path)
    assert notes(lines) == [
        'cell [lr=0.5, hidden=4, steps=30, mode="ok", sleep=0.0, seed 1]: records file does not match its checksum; '
        "computing it again",
        "toy: 4 cells, 3 already done, running 1"]
    pd.testing.assert_frame_equal(again.records, first.records)


# -- failures ------------------------------------------------------------------------------------------

def test_failed_and_diverged_cells_are_recorded_and_the_grid_completes(tmp_path):
    result, lines = run(tmp_path, overrides={"mode": ["ok", "fail", "diverge"], "lr": 0.1})
    folder = tmp_path / "toy" / "moons"
    cell = 'cell [lr=0.1, hidden=4, steps=30, mode="{}", sleep=0.0, seed {}]'
    assert lines == [f"toy: 6 cells, 0 already done, running 6 -> {folder}",
                     cell.format("fail", 0) + " failed: RuntimeError: boom on purpose",
                     cell.format("fail", 1) + " failed: RuntimeError: boom on purpose",
                     cell.format("diverge", 0) + " diverged: loss became non-finite at step 3",
                     cell.format("diverge", 1) + " diverged: loss became non-finite at step 3"]
    manifest = read_json(folder / "manifest.json")
    by_mode = {}
    for cell_id, c in manifest["cells"].items():
        by_mode.setdefault(c["params"]["mode"], []).append(cell_id)
    assert result.statuses == {**dict.fromkeys(by_mode["ok"], "ok"), **dict.fromkeys(by_mode["fail"], "failed"),
                               **dict.fromkeys(by_mode["diverge"], "diverged")}
    assert result.failed == by_mode["fail"] and result.pending == []
    r = pd.read_parquet(folder / "records.parquet")
    assert set(r["mode"]) == {"ok", "diverge"} and r["cell_id"].nunique() == 4
    diverged = r[r["metric"] == "diverged_at"]
    assert list(diverged["value"]) == [3.0, 3.0] and set(diverged["cell_id"]) == set(by_mode["diverge"])
    # The failed cells run again; the others are done.
    _, lines = run(tmp_path, overrides={"mode": ["ok", "fail", "diverge"], "lr": 0.1})
    assert notes(lines)[0] == "toy: 6 cells, 4 already done, running 2"


def test_fail_fast_stops_at_the_first_failed_cell_and_the_rest_stay_pending(tmp_path):
    result, lines = run(tmp_path, overrides={"mode": "fail"}, fail_fast=True)
    folder = tmp_path / "toy" / "moons"
    assert lines == [f"toy: 4 cells, 0 already done, running 4 -> {folder}",
                     'cell [lr=0.1, hidden=4, steps=30, mode="fail", sleep=0.0, seed 0] failed: RuntimeError: boom '
                     "on purpose",
                     "stopped at the first failed cell (--fail-fast)"]
    manifest = read_json(folder / "manifest.json")
    cells = list(manifest["cells"].items())
    assert cells[0][1]["status"] == "failed"
    params = {"hidden": 4, "steps": 30, "mode": "fail", "sleep": 0.0, "dataset": "moons"}
    assert [c for _, c in cells[1:]] == [{"status": "pending", "seed": 1, "params": {"lr": 0.1, **params}},
                                         {"status": "pending", "seed": 0, "params": {"lr": 0.5, **params}},
                                         {"status": "pending", "seed": 1, "params": {"lr": 0.5, **params}}]
    assert result.failed == [cells[0][0]] and result.pending == [c for c, _ in cells[1:]]
    assert result.statuses == {cells[0][0]: "failed", **{c: "pending" for c, _ in cells[1:]}}
    assert result.records.empty and result.summary.empty
    assert not (folder / "records.parquet").exists() and not (folder / "index.json").exists()
    assert "tables" not in manifest and "figures" not in manifest and STAMP.fullmatch(manifest["finished"])
    assert result.manifest["cells"] == manifest["cells"]


def test_fail_fast_lets_a_grid_without_failures_finish(tmp_path):
    result, lines = run(tmp_path, fail_fast=True)
    assert notes(lines) == ["toy: 4 cells, 0 already done, running 4"]
    assert set(result.statuses.values()) == {"ok"} and len(result.records) == 4 * 31


def test_a_broken_backend_is_one_line_and_the_cells_stored_so_far_resume(tmp_path, monkeypatch):
    real = api.execute

    def breaks_after_one(experiment, cells, on_result, **kw):
        real(experiment, cells[:1], on_result, **{**kw, "jobs": 1})
        raise RuntimeError("\n  pool broke  \nsecond line")

    monkeypatch.setattr(api, "execute", breaks_after_one)
    folder = tmp_path / "toy" / "moons"
    result, lines = run(tmp_path, jobs=2)
    assert lines == [f"toy: 4 cells, 0 already done, running 4 -> {folder}",
                     "the loky backend stopped (RuntimeError: pool broke  ); 1 of 4 cells are stored: run the same "
                     "command again to resume"]
    assert list(result.statuses.values()) == ["ok", "pending", "pending", "pending"]
    assert result.records["cell_id"].nunique() == 1
    _, lines = run(tmp_path, jobs=2)
    assert notes(lines)[0] == "toy: 4 cells, 1 already done, running 3"


def test_a_broken_backend_s_reason_is_its_first_line_cut_at_200_characters(tmp_path, monkeypatch):
    messages = iter(["x" * 300, ""])

    def breaks(experiment, cells, on_result, **kw):
        raise OSError(next(messages))

    monkeypatch.setattr(api, "execute", breaks)
    _, lines = run(tmp_path, run="a")
    assert lines[1] == f"the in-process backend stopped (OSError: {'x' * 200}); 0 of 4 cells are stored: run the " \
                       "same command again to resume"
    _, lines = run(tmp_path, run="b")
    assert lines[1] == "the in-process backend stopped (OSError: ); 0 of 4 cells are stored: run the same command " \
                       "again to resume"


def test_a_user_error_while_running_cells_is_raised_as_it_is_and_the_folder_resumes(tmp_path, monkeypatch):
    def refuses(experiment, cells, on_result, **kw):
        raise UserError("refused by the backend")

    with monkeypatch.context() as patched, one_line("refused by the backend"):
        patched.setattr(api, "execute", refuses)
        run(tmp_path)
    folder = tmp_path / "toy" / "moons"
    manifest = read_json(folder / "manifest.json")
    assert manifest["config"]["run"] == "moons" and "finished" not in manifest
    assert (tmp_path / "toy" / "latest").read_text() == "moons\n"
    _, lines = run(tmp_path)
    assert lines == [f"toy: 4 cells, 0 already done, running 4 -> {folder}"]


def test_a_broken_backend_in_the_tune_stage_leaves_the_final_stage_for_the_next_run(tmp_path, monkeypatch):
    def breaks(experiment, cells, on_result, **kw):
        raise OSError("worker lost")

    monkeypatch.setattr(api, "execute", breaks)
    result, lines = run(tmp_path, "api_tuned", overrides={"arm": 1, "trials": 2})
    assert notes(lines)[1:] == ["the in-process backend stopped (OSError: worker lost); 0 of 2 cells are stored: run "
                                "the same command again to resume",
                                "api_tuned: the final stage waits for the tune stage; run the same command again to "
                                "finish it"]
    assert list(result.statuses.values()) == ["pending", "pending"]


def test_finish_alone_builds_a_run_s_tables_and_figures_from_its_stored_cells(tmp_path):
    """Called without figures or fresh records, finish draws the figures and reads every cell from the folder."""
    from bench.grid import expand, resolve_grid

    first, _ = run(tmp_path, seeds=1)
    folder = tmp_path / "toy" / "moons"
    for name in ("records.parquet", "summary.parquet", "summary.csv"):
        (folder / name).unlink()
    grid, dataset, n_seeds = resolve_grid(TOY, seeds=1)
    manifest = {"config": first.manifest["config"]}
    result = api.finish(TOY, RunStore(folder), expand(TOY, grid, dataset, n_seeds), manifest)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "records.parquet"), first.records)
    pd.testing.assert_frame_equal(result.summary, first.summary)
    assert result.manifest["figures"] == ["loss"] and (folder / "figures" / "loss.png").is_file()
    assert result.statuses == first.statuses


# -- jobs, progress, log ---------------------------------------------------------------------------------

def test_jobs_1_and_jobs_2_give_identical_tables_from_here_and_from_worker_processes(tmp_path):
    one, _ = run(tmp_path, "api_rich", run="one", figures=True)
    two, lines = run(tmp_path, "api_rich", run="two", jobs=2, figures=True)
    folder = tmp_path / "api_rich"
    assert lines == [f"api_rich: 4 cells, 0 already done, running 4 -> {folder / 'two'}"]
    config = read_json(folder / "two" / "manifest.json")["config"]
    assert config["jobs"] == 2 and config["parallel"] == "loky"
    for table in ("records", "summary"):
        pd.testing.assert_frame_equal(pd.read_parquet(folder / "one" / f"{table}.parquet"),
                                      pd.read_parquet(folder / "two" / f"{table}.parquet"))
    assert two.manifest["figures"] == ["loss"] and len(one.records) == 4 * 31
    assert [w["pid"] for w in where_cells_ran(one)] == [os.getpid()] * 4
    assert os.getpid() not in [w["pid"] for w in where_cells_ran(two)]


def test_the_defaults_two_cells_on_one_core_run_in_this_process_and_are_drawn(tmp_path, monkeypatch):
    """jobs defaults to runner.pool_size of the pending cells and the cores (None counts as one); figures
    are drawn unless declined, captioned with the run."""
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    result = api.run("toy", results_dir=tmp_path, quick=True, progress=False, log=lambda m: None)
    config = result.manifest["config"]
    assert config["jobs"] == 1 and config["parallel"] == "in-process" and config["blas_threads"] == 1
    assert set(result.statuses.values()) == {"ok"} and result.manifest["figures"] == ["loss"]
    svg = (tmp_path / "toy" / "moons-quick" / "figures" / "loss.svg").read_text()
    assert "1 seed: one seed · --quick (reduced) · run moons-quick · nnbench" in svg


def where_cells_ran(result):
    return [result.artifact(cell_id, "where") for cell_id in result.statuses]


def test_each_cell_draws_from_the_run_s_root_seed_with_the_blas_threads_asked(tmp_path):
    result, _ = run(tmp_path, "api_rich", quick=True, run="one", root_seed=5, blas_threads=1)
    assert where_cells_ran(result) == [{"pid": os.getpid(), "root_seed": 5, "blas_threads": [1]}] * 2
    if (os.cpu_count() or 1) > 1:
        result, _ = run(tmp_path, "api_rich", quick=True, run="two", root_seed=7, blas_threads=2)
        assert where_cells_ran(result) == [{"pid": os.getpid(), "root_seed": 7, "blas_threads": [2]}] * 2


def test_without_a_log_the_notes_go_to_stderr(tmp_path, capsys):
    api.run("toy", results_dir=tmp_path, quick=True, progress=False, figures=False, jobs=1)
    out, err = capsys.readouterr()
    assert out == "" and err == f"toy: 2 cells, 0 already done, running 2 -> {tmp_path / 'toy' / 'moons-quick'}\n"


def test_a_progress_bar_counts_the_cells_when_asked(tmp_path, capsys):
    run(tmp_path, quick=True, progress=True)
    err = capsys.readouterr().err
    assert re.search(r"toy: 100%.*\| 2/2 \[", err), err
    assert re.search(r"(cell/s|s/cell)\]", err), err


def test_the_progress_bar_follows_the_terminal_when_not_asked(tmp_path, capsys, monkeypatch):
    run(tmp_path, quick=True, progress=None, run="a")
    assert "100%" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run(tmp_path, quick=True, progress=None, run="b")
    assert "2/2" in capsys.readouterr().err
    run(tmp_path, quick=True, progress=False, run="c")
    assert "2/2" not in capsys.readouterr().err


def test_the_progress_bar_counts_cells_under_the_stage_s_label_and_follows_the_terminal_s_width(tmp_path, monkeypatch):
    import tqdm.auto

    bars = []

    class Recorded:
        def __init__(self, **kwargs):
            bars.append({**kwargs, "updates": 0, "closed": False})

        def update(self, n=1):
            bars[-1]["updates"] += n

        def close(self):
            bars[-1]["closed"] = True

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    run(tmp_path, quick=True, progress=True)
    assert bars == [{"total": 2, "desc": "toy", "unit": "cell", "dynamic_ncols": True, "updates": 2, "closed": True}]


def test_cells_that_must_run_alone_say_so(tmp_path):
    folder = tmp_path / "api_alone" / "moons"
    result, lines = run(tmp_path, "api_alone", jobs=2)
    assert lines == [f"api_alone: 4 cells, 0 already done, running 4 one at a time here (timing cells run alone) "
                     f"-> {folder}"]
    assert set(result.statuses.values()) == {"ok"}
    (folder / "index.json").unlink()
    _, lines = run(tmp_path, "api_alone", jobs=2)
    assert lines == [f"api_alone: 4 cells, 4 already done, running 0 -> {folder}"]


# -- the dask backend, with a stand-in cluster -------------------------------------------------------------

class StandInClient:
    class scheduler:
        address = "tcp://10.0.0.5:8786"

    def scheduler_info(self):
        return {"workers": {"a": {}, "b": {}, "c": {}}}


@pytest.fixture
def stand_in_cluster(monkeypatch):
    """dask_cluster replaced by one that records its arguments and sends cells to a joblib backend of
    threads that counts the pools it starts."""
    from joblib import register_parallel_backend
    from joblib._parallel_backends import ThreadingBackend

    from bench import dask_backend

    calls, pools = [], []

    class Counted(ThreadingBackend):
        def configure(self, *args, **kwargs):
            pools.append(1)
            return super().configure(*args, **kwargs)

    register_parallel_backend("api_stand_in", Counted)

    @contextmanager
    def cluster(scheduler, timeout, logs):
        calls.append((scheduler, timeout, logs))
        yield StandInClient(), {"backend": "api_stand_in"}

    monkeypatch.setattr(dask_backend, "dask_cluster", cluster)
    return SimpleNamespace(calls=calls, pools=pools)


def test_the_dask_backend_runs_every_cell_on_the_cluster_it_connects_to(tmp_path, stand_in_cluster):
    one, _ = run(tmp_path, run="one")
    result, lines = run(tmp_path, run="dask", backend="dask", scheduler="tcp://10.0.0.5:8786", connect_timeout=2.5,
                        dask_logs=True)
    assert stand_in_cluster.calls == [("tcp://10.0.0.5:8786", 2.5, True)]
    folder = tmp_path / "toy" / "dask"
    assert lines == ["dask: 3 workers at tcp://10.0.0.5:8786", f"toy: 4 cells, 0 already done, running 4 -> {folder}"]
    config = read_json(folder / "manifest.json")["config"]
    assert config["jobs"] == -1 and config["parallel"] == "api_stand_in" and stand_in_cluster.pools == [1]
    pd.testing.assert_frame_equal(result.records, one.records)


def test_the_dask_backend_waits_ten_seconds_by_default_and_logs_to_stderr(tmp_path, stand_in_cluster, capsys):
    api.run("toy", backend="dask", results_dir=tmp_path, quick=True, progress=False, figures=False)
    assert stand_in_cluster.calls == [(None, 10, False)]
    assert capsys.readouterr().err.splitlines()[0] == "dask: 3 workers at tcp://10.0.0.5:8786"


def test_cells_that_must_run_alone_never_go_to_the_cluster(tmp_path, stand_in_cluster):
    _, lines = run(tmp_path, "api_alone", backend="dask", quick=True)
    assert notes(lines)[1] == ("api_alone: 2 cells, 0 already done, running 2 one at a time here (timing cells run "
                               "alone, never on the cluster)")


def test_a_connect_timeout_outside_0_to_3600_seconds_is_one_line(tmp_path, stand_in_cluster):
    for good in (3600, 0.001, 1):
        run(tmp_path, backend="dask", connect_timeout=good, quick=True)
    assert [timeout for _, timeout, _ in stand_in_cluster.calls] == [3600, 0.001, 1]
    for bad in (0, -1, 3600.5, "5"):
        with one_line(f"--connect-timeout must be a number of seconds in (0, 3600], got {bad!r}"):
            run(tmp_path, backend="dask", connect_timeout=bad, quick=True)
    assert len(stand_in_cluster.calls) == 3


# -- load -----------------------------------------------------------------------------------------------

def test_load_reads_the_latest_or_a_named_run_without_running_anything(tmp_path, monkeypatch):
    first, _ = run(tmp_path, run="first", seeds=1)
    second, _ = run(tmp_path, run="second", quick=True)
    latest = api.load("toy", results_dir=tmp_path)
    assert latest.path == tmp_path / "toy" / "second"
    pd.testing.assert_frame_equal(latest.records, pd.read_parquet(tmp_path / "toy" / "second" / "records.parquet"))
    pd.testing.assert_frame_equal(latest.summary, pd.read_parquet(tmp_path / "toy" / "second" / "summary.parquet"))
    assert latest.manifest == read_json(tmp_path / "toy" / "second" / "manifest.json")
    named = api.load("toy", "first", results_dir=tmp_path)
    assert named.path == tmp_path / "toy" / "first"
    pd.testing.assert_frame_equal(named.records, first.records)
    assert named.statuses == first.statuses
    monkeypatch.setenv("NNBENCH_RESULTS", str(tmp_path))
    assert api.load("toy", "first").path == tmp_path / "toy" / "first"
    assert bench.load("toy").path == tmp_path / "toy" / "second"


def test_load_of_a_run_that_is_not_there_is_one_line(tmp_path):
    with one_line(f"no runs of toy under {tmp_path / 'toy'}: run `python -m bench run toy` first"):
        api.load("toy", results_dir=tmp_path)
    run(tmp_path, quick=True)
    with one_line(f"{tmp_path / 'toy' / 'nope'} is not a run folder (no manifest.json)"):
        api.load("toy", "nope", results_dir=tmp_path)


# -- image sets are checked in the driver ------------------------------------------------------------------

@pytest.fixture
def mnist_files(tiny_mnist, monkeypatch):
    """Tiny stand-ins for the MNIST files, found through $NNBENCH_DATA."""
    (tiny_mnist.parent / "mnist").symlink_to(tiny_mnist)
    monkeypatch.setenv("NNBENCH_DATA", str(tiny_mnist.parent))
    return tiny_mnist


def prepared_arrays():
    folder = mnist.cache_dir("mnist") / "prepared"
    return {p.name: p / "x_train.npy" for p in folder.iterdir()} if folder.is_dir() else {}


def test_an_image_set_is_prepared_once_per_dtype_the_grid_uses(mnist_files):
    api._prepare_dataset("mnist", {"dtype": ["float32"]})
    assert [np.load(p, mmap_mode="r").dtype for p in prepared_arrays().values()] == [np.float32]
    api._prepare_dataset("mnist", {"hidden": [4]})
    assert sorted(str(np.load(p, mmap_mode="r").dtype) for p in prepared_arrays().values()) == ["float32", "float64"]
    api._prepare_dataset("moons", {"dtype": ["float16"]})
    assert len(prepared_arrays()) == 2


def test_a_damaged_prepared_image_set_is_rebuilt_by_the_driver_before_any_cell_runs(tmp_path, mnist_files):
    """The cells of api_images read nothing: only the driver's check can mend the cache."""
    api._prepare_dataset("mnist", {"dtype": ["float32"]})
    (array,) = prepared_arrays().values()
    good = array.read_bytes()
    flip_a_byte(array)
    result, _ = run(tmp_path / "results", "api_images")
    assert array.read_bytes() == good
    assert set(result.statuses.values()) == {"ok"}
    files = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
    assert list(result.manifest["data"]) == ["sha256"] and set(result.manifest["data"]["sha256"]) == files


# -- a tuned experiment's two stages ------------------------------------------------------------------------

def best_trials(records):
    """Each arm's trial with the highest last val_score in the tune stage, read from the table."""
    tune = records[(records[STAGE] == TUNE) & (records["metric"] == "val_score")]
    last = tune.sort_values("step").groupby("cell_id").tail(1)
    return {arm: int(group.loc[group["value"].idxmax(), TRIAL]) for arm, group in last.groupby("arm")}


def tuned_cell(params, seed):
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items() if k != "dataset")
    return f"[{shown}, seed {seed}]"


def test_a_tuned_run_confirms_each_arm_s_best_trial_with_every_seed(tmp_path):
    result, lines = run(tmp_path, "api_tuned", root_seed=1)
    folder = tmp_path / "api_tuned" / "moons"
    assert lines == [f"api_tuned (tune stage): 16 cells, 0 already done, running 16 -> {folder}",
                     f"api_tuned (final stage): 6 cells, 0 already done, running 6 -> {folder}"]
    r = pd.read_parquet(folder / "records.parquet")
    final = r[r[STAGE] == FINAL]
    assert r[r[STAGE] == TUNE]["cell_id"].nunique() == 16 and final["cell_id"].nunique() == 6
    best = best_trials(r)
    for arm in (1, 2):
        confirmed = final[final["arm"] == arm]
        assert set(confirmed[TRIAL]) == {best[arm]} and sorted(set(confirmed["seed"])) == [0, 1, 2]
    # Neither the first val_score nor another metric chose the trial.
    tune = r[r[STAGE] == TUNE].drop_duplicates("cell_id")
    for arm in (1, 2):
        largest = tune[tune["arm"] == arm].sort_values("x")[TRIAL].iloc[[0, -1]]
        assert best[arm] not in set(largest)
    assert len(result.statuses) == 22 and set(result.statuses.values()) == {"ok"}
    assert set(r["dataset"]) == {"moons"}
    assert result.manifest["config"]["root_seed"] == 1
    # Run again: the final cells belong to the grid, nothing runs.
    again, lines = run(tmp_path, "api_tuned", root_seed=1)
    assert notes(lines) == ["api_tuned (tune stage): 16 cells, 16 already done, running 0",
                            "api_tuned (final stage): 6 cells, 6 already done, running 0"]
    pd.testing.assert_frame_equal(again.records, r)


def test_every_cell_of_a_tuned_run_belongs_to_its_root_seed(tmp_path):
    """x is fixed, so two root seeds confirm the same settings: their final cells are still each run's own."""
    zero, _ = run(tmp_path, "api_tuned_fixed", overrides={"arm": 1, "trials": 2}, run="zero")
    one, _ = run(tmp_path, "api_tuned_fixed", overrides={"arm": 1, "trials": 2}, run="one", root_seed=1)
    columns = ["arm", "x", STAGE, TRIAL, "seed", "dataset"]
    finals = [x[x[STAGE] == FINAL].drop_duplicates("cell_id")[columns].reset_index(drop=True) for x in (zero.records,
                                                                                                       one.records)]
    pd.testing.assert_frame_equal(*finals)
    assert len(finals[0]) == 3
    assert not set(zero.records["cell_id"]) & set(one.records["cell_id"])


def test_more_trials_discard_the_final_cells_of_a_trial_no_longer_best(tmp_path):
    folder = tmp_path / "api_tuned" / "moons"
    first, _ = run(tmp_path, "api_tuned", root_seed=1)
    more, lines = run(tmp_path, "api_tuned", overrides={"trials": 16}, root_seed=1)
    before, after = best_trials(first.records), best_trials(more.records)
    changed = [arm for arm in (1, 2) if before[arm] != after[arm]]
    assert changed, "the extra trials should find a better one for some arm"
    assert notes(lines) == ["api_tuned (tune stage): 32 cells, 16 already done, running 16",
                            f"{3 * len(changed)} final-stage cells of trials that are no longer the best are discarded",
                            f"api_tuned (final stage): 6 cells, {6 - 3 * len(changed)} already done, running "
                            f"{3 * len(changed)}"]
    stored_final = {c for c, s in statuses_on_disk(folder).items() if s["params"][STAGE] == FINAL}
    assert stored_final == set(more.records.loc[more.records[STAGE] == FINAL, "cell_id"])


def test_an_arm_with_no_trial_ended_ok_with_its_metric_has_no_final_stage(tmp_path):
    """Arm 3 never reports val_score; arm 5 reports it, then diverges: neither has a trial to confirm."""
    result, lines = run(tmp_path, "api_tuned", overrides={"arm": [1, 3, 5], "trials": 2})
    r = result.records
    unfinished = []
    for arm in (3, 5):
        first = r[(r["arm"] == arm) & (r[TRIAL] == 0)].iloc[0]
        params = {"arm": arm, "x": first["x"], STAGE: TUNE, STUDY: 0, TRIAL: 0}
        unfinished.append(f"{tuned_cell(params, 0)}: no trial finished with a finite val_score; nothing to confirm in "
                          "the final stage")
    assert [line for line in lines if "no trial finished" in line] == unfinished
    final = r[r[STAGE] == FINAL]
    assert set(final["arm"]) == {1} and final["cell_id"].nunique() == 3


def test_a_tune_stage_stopped_early_leaves_the_final_stage_for_the_next_run(tmp_path):
    result, lines = run(tmp_path, "api_tuned", overrides={"arm": [4, 1], "trials": 2}, fail_fast=True)
    assert notes(lines)[-2:] == ["stopped at the first failed cell (--fail-fast)",
                                 "api_tuned: the final stage waits for the tune stage; run the same command again to "
                                 "finish it"]
    assert len(result.statuses) == 4 and sorted(result.statuses.values()) == ["failed", "pending", "pending",
                                                                               "pending"]


def test_an_unreadable_status_in_a_tuned_folder_is_computed_again(tmp_path):
    folder = tmp_path / "api_tuned" / "moons"
    first, _ = run(tmp_path, "api_tuned", overrides={"arm": 1, "trials": 2})
    tune = first.records[(first.records[STAGE] == TUNE) & (first.records[TRIAL] == 1)].iloc[0]
    (folder / "cells" / f"{tune['cell_id']}.json").write_bytes(b"\xff\x00{")
    again, lines = run(tmp_path, "api_tuned", overrides={"arm": 1, "trials": 2})
    params = {"arm": 1, "x": tune["x"], STAGE: TUNE, STUDY: 0, TRIAL: 1}
    assert notes(lines) == [f"cell {tuned_cell(params, 0)}: unreadable status file; computing it again",
                            "api_tuned (tune stage): 2 cells, 1 already done, running 1",
                            "api_tuned (final stage): 3 cells, 3 already done, running 0"]
    pd.testing.assert_frame_equal(again.records, first.records)


def test_a_tuned_folder_holding_an_unreadable_cell_of_no_stage_of_this_grid_is_refused(tmp_path):
    folder = tmp_path / "api_tuned" / "moons"
    run(tmp_path, "api_tuned", overrides={"arm": 1, "trials": 2})
    (folder / "cells" / "0123456789abcdef.json").write_bytes(b"\xff\x00{")
    with one_line(f"{folder} holds 1 cells that this grid does not (another --set, --seeds or --quick): give this "
                  "grid its own folder with --run NAME, or add --force to discard them"):
        run(tmp_path, "api_tuned", overrides={"arm": 1, "trials": 2})


def test_a_damaged_final_cell_is_computed_again(tmp_path):
    folder = tmp_path / "api_tuned" / "moons"
    first, _ = run(tmp_path, "api_tuned", overrides={"arm": 1, "trials": 2})
    final = first.records[(first.records[STAGE] == FINAL) & (first.records["seed"] == 2)].iloc[0]
    flip_a_byte(folder / "cells" / f"{final['cell_id']}.parquet")
    again, lines = run(tmp_path, "api_tuned", overrides={"arm": 1, "trials": 2})
    params = {"arm": 1, "x": final["x"], STAGE: FINAL, STUDY: 0, TRIAL: int(final[TRIAL])}
    assert notes(lines) == ["api_tuned (tune stage): 2 cells, 2 already done, running 0",
                            f"cell {tuned_cell(params, 2)}: records file does not match its checksum; computing it "
                            "again",
                            "api_tuned (final stage): 3 cells, 2 already done, running 1"]
    pd.testing.assert_frame_equal(again.records, first.records)

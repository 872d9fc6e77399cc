"""bench.runs in process: the rows of `python -m bench runs` (what each run changed, its cells, newest
first), its table text, and the error when there is no results folder."""

import re
from pathlib import Path

import pytest

import bench
from bench import registry
from bench.runs import _changed, cell_counts, format_runs, list_runs
from bench.store import RunStore
from tests.bench.conftest import one_line
from tests.toy_experiment import EXPERIMENT as TOY

# The config a default toy run writes (tests/toy_experiment.py's grid and seeds, one job, root seed 0);
# test_hand_written_manifests_have_the_real_format checks it against a real run's manifest.
TOY_CONFIG = {"experiment": "toy", "version": 1, "dataset": "moons", "root_seed": 0,
              "grid": {"lr": [0.1, 0.5], "hidden": [4], "steps": [30], "mode": ["ok"], "sleep": [0.0]},
              "seeds": 2, "quick": False, "jobs": 1, "blas_threads": 1, "parallel": "in-process"}
QUICK_GRID = {"lr": [0.1, 0.5], "hidden": [4], "steps": [10], "mode": ["ok"], "sleep": [0.0]}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$")


def only_toy(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {"toy": TOY})
    monkeypatch.setattr(registry, "_SOURCES", {"toy": "registered in code"})
    monkeypatch.setattr(registry, "_loaded", True)


@pytest.fixture
def toy_only(monkeypatch):
    """The registry holds the toy experiment and nothing else."""
    only_toy(monkeypatch)


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """Four real toy runs: the defaults, --quick, one with lr, seeds and root seed changed, one with
    two failing cells."""
    root = tmp_path_factory.mktemp("results")
    options = dict(results_dir=root, progress=False, jobs=1, figures=False, log=lambda message: None)
    with pytest.MonkeyPatch.context() as monkeypatch:
        only_toy(monkeypatch)
        bench.run("toy", **options)
        bench.run("toy", quick=True, **options)
        bench.run("toy", run="fast", overrides={"lr": [0.3]}, seeds=1, root_seed=3, **options)
        bench.run("toy", run="mixed", overrides={"lr": [0.5, 1.5], "mode": ["ok", "fail"]}, seeds=1, **options)
    return root


def write_run(root, experiment, run, /, finished=None, statuses=(), **config):
    """A run folder whose manifest is written by RunStore: the toy defaults changed by `config`."""
    folder = root / experiment / run
    folder.mkdir(parents=True)
    manifest = {"config": {**TOY_CONFIG, "run": run, **config},
                "cells": {f"c{i}": {"status": s, "seed": i} for i, s in enumerate(statuses)}}
    if finished is not None:
        manifest["finished"] = finished
    RunStore(folder).write_manifest(manifest)
    return folder


def write_damaged(root, experiment, run, content=b"{"):
    folder = root / experiment / run
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes(content)
    return folder


def damaged_row(folder):
    return {"experiment": folder.parent.name, "run": folder.name, "path": folder, "finished": "", "dataset": "",
            "quick": "", "settings": "damaged manifest", "cells": ""}


def test_hand_written_manifests_have_the_real_format(real_runs):
    manifest = RunStore(real_runs / "toy" / "moons").read_manifest()
    assert manifest["config"] == {**TOY_CONFIG, "run": "moons"}
    assert [s["status"] for s in manifest["cells"].values()] == ["ok", "ok", "ok", "ok"]


def test_real_runs_are_listed_with_their_data_set_cells_and_changed_settings(real_runs, toy_only):
    rows = {r["run"]: r for r in list_runs(real_runs)}
    for row in rows.values():
        assert TIMESTAMP.match(row.pop("finished")), row
    folder = real_runs / "toy"
    assert rows == {
        "moons": {"experiment": "toy", "run": "moons", "path": folder / "moons", "dataset": "moons", "quick": "",
                  "settings": "defaults", "cells": "4 ok"},
        "moons-quick": {"experiment": "toy", "run": "moons-quick", "path": folder / "moons-quick",
                        "dataset": "moons", "quick": "quick", "settings": "defaults", "cells": "2 ok"},
        "fast": {"experiment": "toy", "run": "fast", "path": folder / "fast", "dataset": "moons", "quick": "",
                 "settings": "lr=0.3 seeds=1 root_seed=3", "cells": "1 ok"},
        "mixed": {"experiment": "toy", "run": "mixed", "path": folder / "mixed", "dataset": "moons", "quick": "",
                  "settings": "lr=0.5,1.5 mode=ok,fail seeds=1", "cells": "2 failed, 2 ok"},
    }


def test_runs_are_listed_newest_first_and_damaged_manifests_last(tmp_path, toy_only):
    damaged = write_damaged(tmp_path, "toy", "a-broken")
    write_run(tmp_path, "toy", "b-january", finished="2026-01-02T10:00:00+0000")
    write_run(tmp_path, "toy", "c-march", finished="2026-03-01T09:00:00+0000")
    write_run(tmp_path, "toy", "d-march-too", finished="2026-03-01T09:00:00+0000")
    write_run(tmp_path, "toy", "e-february", finished="2026-02-28T23:59:59+0000")
    rows = list_runs(tmp_path)
    assert [r["run"] for r in rows] == ["c-march", "d-march-too", "e-february", "b-january", "a-broken"]
    assert rows[-1] == damaged_row(damaged)


@pytest.mark.parametrize("content", [b"{", b"[]", b'{"config": "moons"}', b"\xff"])
def test_a_damaged_manifest_is_a_row_that_says_so_and_the_others_are_still_listed(tmp_path, toy_only, content):
    damaged = write_damaged(tmp_path, "toy", "broken", content)
    write_run(tmp_path, "toy", "good", finished="2026-01-02T10:00:00+0000", statuses=["ok"])
    assert list_runs(tmp_path) == [
        {"experiment": "toy", "run": "good", "path": tmp_path / "toy" / "good", "finished": "2026-01-02T10:00:00+0000",
         "dataset": "moons", "quick": "", "settings": "defaults", "cells": "1 ok"},
        damaged_row(damaged)]


def test_a_run_without_a_finish_time_is_running_or_stopped(tmp_path, toy_only):
    folder = write_run(tmp_path, "toy", "moons", statuses=["ok", "pending", "pending"])
    assert list_runs(tmp_path) == [
        {"experiment": "toy", "run": "moons", "path": folder, "finished": "running or stopped", "dataset": "moons",
         "quick": "", "settings": "defaults", "cells": "1 ok, 2 pending"}]


def test_cells_are_counted_by_status_in_alphabetical_order(tmp_path, toy_only):
    write_run(tmp_path, "toy", "moons", finished="2026-01-02T10:00:00+0000",
              statuses=["pending", "ok", "failed", "ok", "diverged", "ok", "failed"])
    (row,) = list_runs(tmp_path)
    assert row["cells"] == "1 diverged, 2 failed, 3 ok, 1 pending"


def test_a_quick_run_says_quick_and_is_compared_with_the_quick_defaults(tmp_path, toy_only):
    write_run(tmp_path, "toy", "moons-quick", finished="2026-01-02T10:00:00+0000", quick=True, grid=QUICK_GRID,
              seeds=1)
    (row,) = list_runs(tmp_path)
    assert (row["quick"], row["settings"]) == ("quick", "defaults")


def test_an_experiment_no_longer_known_and_a_bare_config_give_blanks_and_a_question_mark(tmp_path, toy_only):
    folder = tmp_path / "retired" / "r1"
    folder.mkdir(parents=True)
    RunStore(folder).write_manifest({"config": {}})
    assert list_runs(tmp_path) == [
        {"experiment": "retired", "run": "r1", "path": folder, "finished": "running or stopped", "dataset": "",
         "quick": "", "settings": "?", "cells": ""}]


def test_runs_can_be_limited_to_one_experiment(tmp_path, toy_only):
    write_run(tmp_path, "aaa", "first", finished="2026-01-02T10:00:00+0000", experiment="aaa")
    write_damaged(tmp_path, "abc", "broken")
    write_run(tmp_path, "toy", "moons", finished="2026-01-01T10:00:00+0000")
    write_run(tmp_path, "zzz", "last", finished="2026-01-03T10:00:00+0000", experiment="zzz")
    assert [(r["experiment"], r["run"]) for r in list_runs(tmp_path, experiment="toy")] == [("toy", "moons")]
    assert [(r["experiment"], r["run"]) for r in list_runs(tmp_path, experiment="aaa")] == [("aaa", "first")]
    assert list_runs(tmp_path, experiment="nope") == []
    assert [(r["experiment"], r["run"]) for r in list_runs(tmp_path)] == [
        ("zzz", "last"), ("aaa", "first"), ("toy", "moons"), ("abc", "broken")]
    assert [(r["experiment"], r["run"]) for r in list_runs(tmp_path, experiment="")] == [
        ("zzz", "last"), ("aaa", "first"), ("toy", "moons"), ("abc", "broken")]


def test_only_run_folders_two_levels_down_are_runs(tmp_path, toy_only):
    write_run(tmp_path, "toy", "moons", finished="2026-01-01T10:00:00+0000")
    (tmp_path / "toy" / "latest").write_text("moons\n")
    (tmp_path / "toy" / "empty").mkdir()
    (tmp_path / "manifest.json").write_text("{")
    (tmp_path / "toy" / "manifest.json").write_text("{")
    (tmp_path / "toy" / "moons" / "figures").mkdir()
    (tmp_path / "toy" / "moons" / "figures" / "manifest.json").write_text("{")
    assert [r["run"] for r in list_runs(tmp_path)] == ["moons"]


def test_an_empty_results_folder_lists_no_runs(tmp_path, toy_only):
    assert list_runs(tmp_path) == []
    assert format_runs(list_runs(tmp_path)) == "no runs"


def test_a_missing_results_folder_is_a_user_error_that_says_to_run_first(tmp_path, toy_only):
    with one_line(f"no results folder {tmp_path / 'none'}: run an experiment first (`python -m bench run NAME`)"):
        list_runs(tmp_path / "none")
    (tmp_path / "file").write_text("")
    with one_line(f"no results folder {tmp_path / 'file'}: run an experiment first (`python -m bench run NAME`)"):
        list_runs(tmp_path / "file", experiment="toy")


def test_the_default_results_folder_is_results_in_the_current_folder_or_NNBENCH_RESULTS(tmp_path, monkeypatch,
                                                                                           toy_only):
    monkeypatch.delenv("NNBENCH_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    with one_line("no results folder results: run an experiment first (`python -m bench run NAME`)"):
        list_runs()
    write_run(tmp_path / "results", "toy", "here", finished="2026-01-01T10:00:00+0000")
    write_run(tmp_path / "elsewhere", "toy", "there", finished="2026-01-01T10:00:00+0000")
    assert [(r["run"], r["path"]) for r in list_runs()] == [("here", Path("results/toy/here"))]
    assert [r["run"] for r in list_runs(experiment="toy")] == ["here"]
    monkeypatch.setenv("NNBENCH_RESULTS", str(tmp_path / "elsewhere"))
    assert [(r["run"], r["path"]) for r in list_runs()] == [("there", tmp_path / "elsewhere" / "toy" / "there")]
    assert [r["run"] for r in list_runs(tmp_path / "results")] == ["here"]


def test_cell_counts_counts_each_status_and_marks_a_cell_without_one():
    manifest = {"cells": {"a": {"status": "ok"}, "b": {"status": "failed", "seed": 1}, "c": {"status": "ok"},
                          "d": {"seed": 2}}}
    assert cell_counts(manifest) == {"ok": 2, "failed": 1, "?": 1}
    assert cell_counts({"cells": {}}) == {}
    assert cell_counts({"config": {}}) == {}


def test_changed_is_a_question_mark_without_the_experiment():
    assert _changed(None, TOY_CONFIG) == "?"


def test_changed_is_a_question_mark_when_the_experiment_no_longer_takes_the_data_set():
    assert _changed(TOY, {**TOY_CONFIG, "dataset": "mnist"}) == "?"


def test_changed_says_defaults_for_the_defaults_of_the_runs_data_set_and_quick_setting():
    assert _changed(TOY, TOY_CONFIG) == "defaults"
    assert _changed(TOY, {**TOY_CONFIG, "quick": True, "grid": QUICK_GRID, "seeds": 1}) == "defaults"
    assert _changed(TOY, {"dataset": "moons", "seeds": 2}) == "defaults"
    assert _changed(TOY, {"seeds": 2}) == "defaults"


def test_changed_compares_a_quick_run_with_the_quick_defaults_and_a_full_one_with_the_full():
    assert _changed(TOY, {**TOY_CONFIG, "quick": True}) == "steps=30 seeds=2"
    assert _changed(TOY, {**TOY_CONFIG, "grid": QUICK_GRID, "seeds": 1}) == "steps=10 seeds=1"


def test_changed_lists_settings_in_grid_order_then_seeds_then_root_seed():
    grid = {**TOY_CONFIG["grid"], "mode": ["ok", "fail"], "lr": [0.01, 0.1], "scale": [0.5]}
    config = {**TOY_CONFIG, "grid": grid, "seeds": 5, "root_seed": 3}
    assert _changed(TOY, config) == "lr=0.01,0.1 mode=ok,fail scale=0.5 seeds=5 root_seed=3"


def test_changed_shows_a_root_seed_only_when_it_is_not_zero():
    assert _changed(TOY, {**TOY_CONFIG, "root_seed": 3}) == "root_seed=3"
    assert _changed(TOY, {**TOY_CONFIG, "root_seed": 0}) == "defaults"
    assert _changed(TOY, {**TOY_CONFIG, "seeds": 1}) == "seeds=1"


def test_format_runs_is_a_table_of_left_aligned_columns_two_spaces_apart():
    rows = [
        {"experiment": "toy", "run": "moons-quick", "path": Path("results/toy/moons-quick"),
         "finished": "2026-12-05T17:08:31+0000", "dataset": "moons", "quick": "quick", "settings": "defaults",
         "cells": "2 ok"},
        {"experiment": "toy", "run": "fast", "path": Path("results/toy/fast"), "finished": "2026-12-05T17:08:31+0000",
         "dataset": "moons", "quick": "", "settings": "lr=0.3 seeds=1 root_seed=3", "cells": "1 ok"},
        {"experiment": "weight_init_compare", "run": "broken", "path": Path("results/weight_init_compare/broken"),
         "finished": "", "dataset": "", "quick": "", "settings": "damaged manifest", "cells": ""},
    ]
    assert format_runs(rows) == "\n".join([
        "experiment           run          finished                  dataset  quick  cells  settings",
        "toy                  moons-quick  2026-12-05T17:08:31+0000  moons    quick  2 ok   defaults",
        "toy                  fast         2026-12-05T17:08:31+0000  moons           1 ok   lr=0.3 seeds=1 root_seed=3",
        "weight_init_compare  broken                                                        damaged manifest",
    ])


def test_format_runs_widens_a_column_to_its_header_and_shows_values_as_text():
    row = {"experiment": "xor", "run": "r", "path": Path("p"), "finished": "", "dataset": "", "quick": "",
           "settings": "?", "cells": 3}
    assert format_runs([row]) == "\n".join([
        "experiment  run  finished  dataset  quick  cells  settings",
        "xor         r                              3      ?",
    ])


def test_format_runs_of_no_rows_says_no_runs():
    assert format_runs([]) == "no runs"

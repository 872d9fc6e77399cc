"""The harness core in process, where a mutation tool can see it: the run folder (bench.store), the
grid (bench.grid), the intervals and the comparison of two runs (bench.intervals, bench.compare).
The CLI tests drive the same code through subprocesses; these state each rule directly."""

import json
import os
import re
import socket
import tempfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench import tuning
from bench.compare import (
    ALPHA,
    METHOD,
    MIN_EFFECT,
    bh_adjust,
    compare_runs,
    compare_summaries,
    flags,
    format_comparison,
    metric_range,
    resolve,
    welch,
)
from bench.errors import UserError
from bench.grid import (
    _checked,
    cell_id,
    describe,
    describe_params,
    expand,
    final_cells,
    parse_overrides,
    parse_value,
    resolve_dataset,
    resolve_grid,
    split_values,
    tune_cells,
    values_text,
)
from bench.intervals import bootstrap_interval, t975
from bench.params import LR, Float
from bench.store import INDEX, RunStore, default_run_name, resolve_run_dir, results_root
from bench.tables import CellRows, combine
from nncore.datasets import outside
from nncore.datasets.download import file_digest
from tests.toy_experiment import EXPERIMENT as TOY

IDENTITY = {"experiment": "toy", "version": 1, "dataset": "moons", "root_seed": 0}


def one_line(message):
    return pytest.raises(UserError, match="^" + re.escape(message) + "$")


def manifest(cells=None, **config):
    return {"config": {**IDENTITY, **config}, "cells": cells or {}}


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "toy" / "moons")
    s.open(IDENTITY)
    yield s
    s.close()


def records(value=1.0):
    return CellRows({"experiment": "toy", "cell_id": "c", "seed": 1, "lr": 0.1}, [0, 1], [np.nan, 1.0],
                    ["loss", "loss"], [value, value / 2])


def npz_set(path, features):
    """A small outside data set: six random training samples of two classes, two test samples."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((6, features)), t_train=np.arange(6) % 2, x_test=rng.random((2, features)),
             t_test=np.arange(2))
    return f"npz:{path}"


# -- names and folders ---------------------------------------------------------------------------------
def test_results_root_is_the_option_then_the_environment_then_results(monkeypatch, tmp_path):
    monkeypatch.delenv("NNBENCH_RESULTS", raising=False)
    assert results_root() == results_root(None) == type(tmp_path)("results")
    monkeypatch.setenv("NNBENCH_RESULTS", str(tmp_path / "env"))
    assert results_root() == tmp_path / "env"
    assert results_root(tmp_path / "opt") == tmp_path / "opt"


def test_default_run_name():
    assert default_run_name("moons", False) == "moons"
    assert default_run_name("moons", True) == "moons-quick"
    assert default_run_name("npz:/data/a:b/moons.v2.npz", False) == "npz-moons.v2"
    assert default_run_name("idx:data/fashion", True) == "idx-fashion-quick"


def test_resolve_run_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "results"
    with one_line(f"no runs of toy under {root / 'toy'}: run `python -m bench run toy` first"):
        resolve_run_dir(root, "toy")
    run = root / "toy" / "moons"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text("{}")
    assert resolve_run_dir(root, "toy", "moons") == run
    assert resolve_run_dir(root, "other", str(run)) == run  # a path to a run folder, whatever the experiment
    assert resolve_run_dir(root, "other", "results/toy/moons") == type(run)("results/toy/moons")  # or relative
    (root / "toy" / "latest").write_text("moons\n")
    assert resolve_run_dir(root, "toy") == run == resolve_run_dir(root, "toy", "latest")
    for bad in ("", "\n", "a/b", ".", ".."):
        (root / "toy" / "latest").write_text(bad)
        with one_line(f"{root / 'toy' / 'latest'} does not name a run folder; delete it, or name the run with "
                      "--run NAME"):
            resolve_run_dir(root, "toy")
    (root / "toy" / "latest").write_bytes(b"\xff\xfe")
    with one_line(f"{root / 'toy' / 'latest'} is damaged (UnicodeDecodeError); delete it, or name the run with "
                  "--run NAME"):
        resolve_run_dir(root, "toy")
    (root / "toy" / "empty").mkdir()
    with one_line(f"{root / 'toy' / 'empty'} is not a run folder (no manifest.json)"):
        resolve_run_dir(root, "toy", "empty")
    with one_line(f"{root / 'toy' / 'none'} is not a run folder (no manifest.json)"):
        resolve_run_dir(root, "toy", "none")
    (tmp_path / "bare").mkdir()  # a folder without a manifest is not taken as a run by its path
    with one_line(f"{root / 'toy' / str(tmp_path / 'bare')} is not a run folder (no manifest.json)"):
        resolve_run_dir(root, "toy", str(tmp_path / "bare"))


# -- opening: identity, lock, leftovers ----------------------------------------------------------------
def test_open_creates_the_folder_and_refuses_another_runs(tmp_path):
    folder = tmp_path / "toy" / "moons"
    s = RunStore(folder)
    s.open(IDENTITY)
    assert s.cells_dir == folder / "cells" and s.cells_dir.is_dir() and s.figures_dir == folder / "figures"
    assert s.read_manifest() is None
    s.write_manifest(manifest())
    s.close()
    s.open(IDENTITY)  # the same run: resumed
    s.close()
    other = {**IDENTITY, "version": 2, "dataset": "digits"}
    with one_line(f"{folder} holds another run: version 1 (asked 2), dataset 'moons' (asked 'digits'); choose "
                  "another --run NAME or add --force"):
        s.open(other)
    s.open({**IDENTITY, "root_seed": 0, "something else": 1})  # only the identity's fields count
    s.close()
    with one_line(f"{folder} holds another run: root_seed 0 (asked 1); choose another --run NAME or add --force"):
        s.open({**IDENTITY, "root_seed": 1})
    with one_line(f"{folder} holds another run: experiment 'toy' (asked 'xor'); choose another --run NAME or add "
                  "--force"):
        s.open({**IDENTITY, "experiment": "xor"})
    s.open(other, force=True)  # a refused open released the lock
    s.close()


def test_a_damaged_manifest_refuses_open_and_force_rebuilds_the_folder(tmp_path):
    """What the damaged manifest's message promises: the same command with --force opens the folder."""
    s = RunStore(tmp_path / "run")
    s.open(IDENTITY)
    s.write_cell("c1", records(), {"status": "ok"})
    s.close()
    (s.folder / "manifest.json").write_text("{")
    with one_line(f"{s.folder / 'manifest.json'} is damaged (JSONDecodeError); run the same command with --force "
                  "to rebuild this run folder"):
        s.open(IDENTITY)
    s.open(IDENTITY, force=True)
    assert list(s.cells_dir.iterdir()) == []
    s.close()


def test_open_removes_dead_writers_temporary_files_and_force_removes_every_cell(tmp_path):
    s = RunStore(tmp_path / "run")
    s.open(IDENTITY)
    s.write_cell("c1", records(), {"status": "ok"})
    for name in (".c2.parquet.tmp", "c3.tmp", ".c4.json"):
        (s.cells_dir / name).write_text("x")
    s.close()
    s.open(IDENTITY)
    assert sorted(p.name for p in s.cells_dir.iterdir()) == [".c4.json", "c1.json", "c1.parquet", "c3.tmp"]
    s.close()
    s.open(IDENTITY, force=True)
    assert list(s.cells_dir.iterdir()) == []
    s.close()


def test_one_writer_per_folder(tmp_path):
    first = RunStore(tmp_path / "run")
    first.open(IDENTITY)
    owner = (tmp_path / "run" / ".lock.owner").read_text()
    assert re.fullmatch(rf"pid {os.getpid()} on {re.escape(socket.gethostname())}, since \d\d:\d\d:\d\d\n", owner)
    second = RunStore(tmp_path / "run")
    with one_line(f"{tmp_path / 'run'} is being written by another run ({owner.strip()}); wait for it to finish, "
                  "or give this one its own folder with --run NAME"):
        second.open(IDENTITY)
    (tmp_path / "run" / ".lock.owner").unlink()
    with pytest.raises(UserError, match=r"by another run \(another process\); wait"):
        second.open(IDENTITY)
    first.close()
    first.close()  # closing twice is harmless
    second.open(IDENTITY)
    second.close()


def test_a_held_folder_is_refused_at_once_not_after_a_wait(tmp_path, monkeypatch):
    """The message tells the user to wait; the tool itself never does (a wait would let a second writer
    in whenever the first finishes within it)."""
    import filelock

    asked = []
    acquire = filelock.FileLock.acquire
    monkeypatch.setattr(filelock.FileLock, "acquire", lambda self, timeout=None, **kw: asked.append(timeout) or
                        acquire(self, timeout=timeout, **kw))
    first = RunStore(tmp_path / "run")
    first.open(IDENTITY)
    with pytest.raises(UserError, match="is being written by another run"):
        RunStore(tmp_path / "run").open(IDENTITY)
    first.close()
    assert asked == [0, 0]


def test_an_unwritable_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(UserError, match=r"^cannot write results to .*file/run \(Not a directory\); pass --results "
                                        r"DIR$"):
        RunStore(tmp_path / "file" / "run").open(IDENTITY)


def test_manifest_round_trip_and_damage(store):
    store.write_manifest(manifest(note="é", folder=store.folder))
    assert store.read_manifest() == manifest(note="é", folder=str(store.folder))  # what JSON cannot hold: text
    assert (store.folder / "manifest.json").read_text().startswith('{\n  "config": {\n    "experiment"')  # for people
    path = store.folder / "manifest.json"
    for damaged, kind in (("{", "JSONDecodeError"), ("[1]", "ValueError"), ('{"config": 3}', "ValueError"),
                          ('{"cells": {}}', "ValueError")):
        path.write_text(damaged)
        with one_line(f"{path} is damaged ({kind}); run the same command with --force to rebuild this run folder"):
            store.read_manifest()
        assert store.read_manifest(damaged_ok=True) is None
    store.point_latest()
    assert (store.folder.parent / "latest").read_text() == "moons\n"


# -- cells ---------------------------------------------------------------------------------------------
def test_a_cell_is_written_records_first_and_checked_by_its_digest(store):
    assert store.cell_status("c") is None and store.check_cell("c") is None and not store.is_done("c")
    store.write_cell("c", records(), {"status": "ok", "seconds": 1.5, "where": store.folder},
                     artifacts={"model": {"W": [1, 2]}, "curve": [3]})
    status = json.loads((store.cells_dir / "c.json").read_text())
    assert status == {"status": "ok", "seconds": 1.5, "where": str(store.folder),
                      "sha256": file_digest(store.cells_dir / "c.parquet")}
    assert store.read_artifact("c", "curve") == [3]
    assert store.cell_status("c") == status and store.check_cell("c") is None and store.is_done("c")
    back = store.read_cell_rows("c")
    assert back.lead == records().lead and back.step.tolist() == [0, 1] and back.metric.tolist() == ["loss"] * 2
    np.testing.assert_array_equal(back.epoch, [np.nan, 1.0])
    assert back.value.tolist() == [1.0, 0.5] and back.value.dtype == np.float64
    assert store.read_cell("c").columns.tolist() == ["experiment", "cell_id", "seed", "lr", "step", "epoch", "metric",
                                                     "value"]
    assert store.read_artifact("c", "model") == {"W": [1, 2]}
    missing = store.folder / "artifacts" / "c" / "weights.joblib"
    with one_line(f"{missing} does not exist: no artifact 'weights' for cell c"):
        store.read_artifact("c", "weights")
    assert store.stored_cells() == {"c"}

    records(2.0).to_arrow().to_pandas().to_parquet(store.cells_dir / "c.parquet")  # rewritten behind the status's back
    assert store.check_cell("c") == "records file does not match its checksum"
    (store.cells_dir / "c.parquet").unlink()
    assert store.check_cell("c") == "records file missing"
    for damaged in ("{", "[]", '{"sha256": "x"}'):
        (store.cells_dir / "c.json").write_text(damaged)
        assert store.cell_status("c") is None and store.check_cell("c") == "unreadable status file"
    store.discard_cell("c")
    store.write_cell("c", records(), {"status": "ok"})
    store.discard_cell("c")
    store.discard_cell("c")  # nothing left to discard
    assert store.stored_cells() == set() and list(store.cells_dir.iterdir()) == []


def test_a_cell_costs_no_fsync_and_the_index_comes_after_a_sync(store, monkeypatch):
    """Its checksum protects a cell; the index, which lets a rerun skip that check, waits for the disk."""
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync"))
    monkeypatch.setattr(os, "sync", lambda: calls.append("sync"))
    store.write_cell("c", records(), {"status": "ok"})
    assert calls == []
    store.write_tables(combine([records()]), combine([records()]))
    store.write_manifest(m := manifest({"c": {"status": "ok"}}))
    calls.clear()
    store.write_index(m)
    assert calls == ["sync", "fsync"] and store.up_to_date(["c"], figures=False)


@pytest.mark.parametrize("status, done", [("ok", True), ("diverged", True), ("failed", False), ("running", False)])
def test_done_cells_are_ok_or_diverged(store, status, done):
    store.write_cell("c", records(), {"status": status})
    assert store.is_done("c") is done


# -- the index and the tables --------------------------------------------------------------------------
def test_the_index_says_when_a_rerun_has_nothing_to_do(store):
    for c in ("a", "b"):
        store.write_cell(c, records(), {"status": "ok"})
    store.write_tables(combine([records()]), combine([records()]))
    m = manifest({"a": {"status": "ok"}, "b": {"status": "diverged"}})
    store.write_manifest(m)
    store.write_index(m)
    assert store.up_to_date(["a", "b"], figures=False) and store.up_to_date(["b", "a"], figures=False)
    assert not store.up_to_date(["a"], figures=False)  # a grid without b is another table
    assert not store.up_to_date(["a", "b", "c"], figures=False)
    assert not store.up_to_date(["a", "b"], figures=True)  # the figures were not drawn
    store.write_index({**m, "figures": {}})
    assert store.up_to_date(["a", "b"], figures=True)

    stat = os.stat(store.cells_dir / "b.parquet")
    os.utime(store.cells_dir / "b.parquet", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    assert not store.up_to_date(["a", "b"], figures=False)  # rewritten, even with the same size
    store.write_index({**m, "figures": {}})
    (store.folder / "summary.csv").write_text("not indexed")  # the CSV is derived from summary.parquet
    assert store.up_to_date(["a", "b"], figures=True)
    stat = os.stat(store.folder / "summary.parquet")
    os.utime(store.folder / "summary.parquet", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    assert not store.up_to_date(["a", "b"], figures=True)

    for _ in range(2):  # with or without an index to remove
        store.write_index(manifest({"a": {"status": "ok"}, "b": {"status": "failed"}}))
        assert not (store.folder / INDEX).exists() and not store.up_to_date(["a", "b"], figures=False)
    for damaged in ("{", "[]", '{"cells": {}}'):
        (store.folder / INDEX).write_text(damaged)
        assert not store.up_to_date([], figures=False)


def test_combined_cells_keep_their_order_and_a_parameter_of_mixed_types_becomes_text():
    def cell(cell_id, n, **params):
        return CellRows({"experiment": "toy", "cell_id": cell_id, "seed": 1, **params}, range(n), [np.nan] * n,
                        ["loss"] * n, np.arange(n) / 10)

    table = combine([cell("a", 2, lr=1, act="relu", note=None), cell("b", 0, lr=0.5, act="relu", note="x"),
                     cell("c", 1, lr=0.5, act=3, extra=True)])
    assert table.columns.tolist() == ["experiment", "cell_id", "seed", "lr", "act", "note", "extra", "step", "epoch",
                                      "metric", "value"]
    assert table["cell_id"].tolist() == ["a", "a", "c"] and table["step"].tolist() == [0, 1, 0]
    assert table["lr"].dtype == np.float64 and table["lr"].tolist() == [1.0, 1.0, 0.5]  # ints and floats: floats
    assert table["act"].tolist() == ["relu", "relu", "3"]  # text and a number: text
    assert table["note"].isna().all()  # a cell without rows adds none, whatever its parameters
    assert table["extra"].isna().tolist() == [True, True, False] and table["extra"].tolist()[2] is True
    assert table["value"].tolist() == [0.0, 0.1, 0.0] and table["seed"].dtype == np.int64


def test_tables_round_trip_and_a_damaged_table_is_one_line(store):
    summary = pd.DataFrame({"lr": [0.1], "metric": ["loss"], "mean": [0.5]})
    store.write_tables(combine([records()]), summary)
    pd.testing.assert_frame_equal(store.read_records(), combine([records()]))
    pd.testing.assert_frame_equal(store.read_summary(), summary)
    assert pd.read_csv(store.folder / "summary.csv").equals(summary)
    (store.folder / "summary.parquet").write_bytes(b"PAR1 damaged")
    with pytest.raises(UserError, match=rf"^{re.escape(str(store.folder))}: cannot read its tables \(.+\); re-run "
                                        r"the experiment$"):
        store.read_summary()
    (store.folder / "records.parquet").unlink()
    with pytest.raises(UserError, match="cannot read its tables"):
        store.read_records()


# -- the grid ------------------------------------------------------------------------------------------


def test_parse_value_rules():
    assert parse_value(" 0.5 ") == 0.5 and parse_value("null") is None and parse_value("a b") == "a b"
    assert parse_value('"7"') == "7" and parse_value("{\"a\": 1}") == {"a": 1}
    for text, message in ((" ", "empty value"), ("[1,", "malformed value '[1,'"), ("{a", "malformed value '{a'"),
                          ('"x', "malformed value '\"x'")):
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            parse_value(text)


def test_split_values_at_top_level_commas_only():
    assert split_values("") == [""]
    assert split_values("[1,[2,3]],{\"a\":[4,5]},x") == ["[1,[2,3]]", "{\"a\":[4,5]}", "x"]
    assert split_values("a,,b") == ["a", "", "b"]
    for text in ("a]", "[a", "[1]],[2"):
        with pytest.raises(ValueError, match=f"^unbalanced brackets in {re.escape(repr(text))}$"):
            split_values(text)


def test_overrides_messages_and_duplicates():
    params = "lr, hidden, steps, mode, sleep"
    with one_line(f"malformed override 'lr': write --set NAME=VALUE[,VALUE...]; parameters: {params}"):
        parse_overrides(["lr"], TOY)
    with one_line(f"malformed override '=1': write --set NAME=VALUE[,VALUE...]; parameters: {params}"):
        parse_overrides(["=1"], TOY)
    with one_line('bad value for mode: "ok=1"; mode takes one of ok, fail, diverge'):
        parse_overrides(["mode=ok=1"], TOY)  # the name ends at the first '='
    with one_line("bad value for lr: unbalanced brackets in '0.1]'; write --set lr=VALUE[,VALUE...]"):
        parse_overrides(["lr=0.1]"], TOY)
    assert parse_overrides([" lr =0.1,0.1,0.2", "hidden=3"], TOY) == {"lr": [0.1, 0.2], "hidden": [3]}
    assert parse_overrides(None, TOY) == parse_overrides([], TOY) == {}
    assert _checked(LR, "lr", "1e-3, 0.001") == [0.001]


def test_overrides_of_parameters_that_exist_for_some_values_only():
    seen = []

    def extra_params(grid):
        seen.append(grid)
        return {"beta": Float("a coefficient", 0, 1)} if 0.5 in grid["lr"] else {}

    exp = replace(TOY, extra_params=extra_params)
    assert parse_overrides(["beta=0.25,0.75", "lr=0.5"], exp) == {"lr": [0.5], "beta": [0.25, 0.75]}
    assert seen[-1] == {**TOY.grid, "lr": [0.5]}  # asked with the overrides applied
    with one_line("unknown parameter 'beta' for toy: valid parameters are lr, hidden, steps, mode, sleep "
                  "(python -m bench show toy)"):
        parse_overrides(["beta=0.25", "lr=0.1"], exp)
    with one_line("bad value for beta: 2; beta takes a number >= 0 and <= 1"):
        parse_overrides(["lr=0.5", "beta=2"], exp)
    seen.clear()
    parse_overrides(["lr=0.5"], exp)
    assert seen == []  # no name left to look up: not asked


def test_values_text_and_descriptions():
    assert values_text([0.1, "adam", [100, 100], None, True]) == '0.1,adam,[100, 100],null,true'
    assert values_text("sgd") == "sgd" and values_text(3) == "3"
    cell = expand(TOY, *resolve_grid(TOY))[0]
    assert describe(cell) == '[lr=0.1, hidden=4, steps=30, mode="ok", sleep=0.0, seed 0]'
    assert describe_params({"optimizer": "adam", "dataset": "moons"}, 4) == '[optimizer="adam", seed 4]'


def test_cell_ids_follow_everything_that_decides_a_result():
    params = {"lr": 0.1, "dataset": "moons"}
    base = cell_id(TOY, params, 0, 0)
    # Stored runs resume by these ids: the scheme may not change under them.
    assert base == cell_id(TOY, dict(params), 0, 0) == "f9651dc3282b3bba" and len(base) == 16
    others = {cell_id(TOY, {**params, "lr": 0.2}, 0, 0), cell_id(TOY, params, 1, 0), cell_id(TOY, params, 0, 1),
              cell_id(replace(TOY, version=2), params, 0, 0), cell_id(replace(TOY, name="toy2"), params, 0, 0),
              cell_id(TOY, params, 0, 0, {"data_sha256": "ab"}),
              cell_id(replace(TOY, identity=lambda p: {"optimizer_sha256": "cd"}), params, 0, 0)}
    assert base not in others and len(others) == 7
    assert cell_id(replace(TOY, identity=lambda p: {}), params, 0, 0) == base  # nothing added: the same id


def test_resolve_dataset_messages(tmp_path):
    assert resolve_dataset(TOY, "moons") == ("moons", None)
    with one_line("toy runs on moons, not 'digits'"):
        resolve_dataset(TOY, "digits")
    with one_line("toy runs on moons, not 'npz:x.npz'"):
        resolve_dataset(TOY, "npz:x.npz")  # outside data only where the experiment accepts it
    exp = replace(TOY, datasets=("moons", "xor"), accepts=("images", "points"))
    with one_line("toy runs on moons, xor, or your own (npz:PATH, idx:DIR), not 'digits'"):
        resolve_dataset(exp, "digits")
    vectors = npz_set(tmp_path / "d.npz", features=3)
    with one_line(f"toy takes images or points data; {vectors} holds vectors"):
        resolve_dataset(exp, vectors)
    assert resolve_dataset(replace(exp, accepts=("vectors",)), vectors) == (vectors, "vectors")
    points = replace(TOY, accepts=("points",), dataset_grids={"points": {"hidden": [3]}})
    grid, dataset, _ = resolve_grid(points, dataset=npz_set(tmp_path / "p.npz", features=2))
    assert grid["hidden"] == [3] and dataset == f"npz:{tmp_path / 'p.npz'}"  # settings by the kind of data


def test_resolve_grid_applies_quick_then_overrides_then_seeds():
    exp = replace(TOY, datasets=("moons", "xor"), dataset_grids={"xor": {"hidden": [8]}},
                  quick={"steps": [10], "seeds": 1, "hidden": [2]})
    assert resolve_grid(exp) == ({**TOY.grid}, "moons", 2)
    assert resolve_grid(exp, dataset="xor") == ({**TOY.grid, "hidden": [8]}, "xor", 2)
    grid, _, seeds = resolve_grid(exp, {"hidden": [5]}, "xor", quick=True)
    assert grid == {**TOY.grid, "steps": [10], "hidden": [5]} and seeds == 1
    assert resolve_grid(exp, quick=True, seeds=4)[2] == 4 and resolve_grid(exp, seeds=0)[2] == 0
    checked = []
    resolve_grid(replace(exp, check=checked.append), {"lr": [0.3]})
    assert checked == [{**TOY.grid, "lr": [0.3]}]
    grid, _, _ = resolve_grid(exp)
    grid["lr"].append(9)
    assert TOY.grid["lr"] == [0.1, 0.5]  # the experiment's own lists are never handed out


def test_expand_lays_out_points_then_seeds():
    cells = expand(TOY, {"lr": [0.1, 0.5], "hidden": [4]}, "moons", 2, root_seed=7)
    assert [(c.params["lr"], c.seed) for c in cells] == [(0.1, 0), (0.1, 1), (0.5, 0), (0.5, 1)]
    assert all(c.experiment == "toy" and c.params["dataset"] == "moons" for c in cells)
    assert cells[3].cell_id == cell_id(TOY, {"lr": 0.5, "hidden": 4, "dataset": "moons"}, 1, 7)


TUNED = replace(TOY, tuning=tuning.Tuning(space=lambda point: {"lr": tuning.Range(0.01, 1, log=True)},
                                          metric="accuracy"))


def test_tune_and_final_cells(tmp_path):
    grid = {"hidden": [4, 8, 16], "steps": [30], "mode": ["ok"], "sleep": [0.0], "trials": [3]}
    groups = tune_cells(TUNED, grid, "moons", root_seed=1)
    assert [len(g) for g in groups] == [3, 3, 3] and expand(TUNED, grid, "moons", 5, 1) == sum(groups, [])
    cell = groups[1][2]
    assert cell.seed == 0 and cell.params == {"hidden": 8, "steps": 30, "mode": "ok", "sleep": 0.0,
                                              "lr": cell.params["lr"], "stage": "tune", "trial": 2, "dataset": "moons"}
    assert cell.cell_id == cell_id(TUNED, cell.params, 0, 1)
    # The trials are a function of the root seed: the same on every call, others under another seed.
    lrs = [[c.params["lr"] for c in g] for g in groups]
    assert lrs == [[c.params["lr"] for c in g] for g in tune_cells(TUNED, grid, "moons", root_seed=1)]
    assert lrs != [[c.params["lr"] for c in g] for g in tune_cells(TUNED, grid, "moons")]
    assert tune_cells(TUNED, grid, "moons") == tune_cells(TUNED, grid, "moons", root_seed=0)

    scores = {groups[1][0].cell_id: 0.5, groups[1][1].cell_id: 0.9, groups[1][2].cell_id: 0.9,
              groups[2][0].cell_id: 0.7}
    cells, unfinished = final_cells(TUNED, groups, lambda c: scores.get(c.cell_id), "moons", 2, root_seed=1)
    assert unfinished == [groups[0][0]]  # no trial of hidden 4 finished; the others go on
    best = {k: v for k, v in groups[1][1].params.items() if k != "dataset"}  # the first of the two best
    assert [c.params for c in cells[:2]] == [{**best, "stage": "final", "dataset": "moons"}] * 2
    assert [c.params["hidden"] for c in cells] == [8, 8, 16, 16] and [c.seed for c in cells] == [0, 1, 0, 1]
    assert cells[1].cell_id == cell_id(TUNED, {**best, "stage": "final", "dataset": "moons"}, 1, 1)
    default_seed = final_cells(TUNED, groups, lambda c: scores.get(c.cell_id), "moons", 2)[0]
    assert default_seed[0].cell_id == cell_id(TUNED, {**best, "stage": "final", "dataset": "moons"}, 0, 0)


def test_an_outside_data_sets_bytes_are_in_every_cell_id(tmp_path):
    exp = replace(TUNED, accepts=("points",))
    name, _ = resolve_dataset(exp, npz_set(tmp_path / "d.npz", features=2))
    grid = {"hidden": [4], "steps": [30], "mode": ["ok"], "sleep": [0.0], "trials": [2]}
    data = {"data_sha256": outside.digest(name)}
    (trial, _), = tune_cells(exp, grid, name)
    assert trial.params["dataset"] == name and trial.cell_id == cell_id(exp, trial.params, 0, 0, data)
    cells, _ = final_cells(exp, [[trial]], lambda c: 0.5, name, 1)
    assert cells[0].cell_id == cell_id(exp, cells[0].params, 0, 0, data)
    cells = expand(replace(exp, tuning=None), {"lr": [0.1], **grid}, name, 1)
    assert cells[0].cell_id == cell_id(exp, cells[0].params, 0, 0, data)


def test_a_sampled_grid_gets_the_root_seed():
    seen = []
    exp = replace(TUNED, points=lambda grid, seed: seen.append(seed) or [{"hidden": 4}])
    tune_cells(exp, {"trials": [1]}, "moons", root_seed=5)
    expand(replace(exp, tuning=None), {}, "moons", 1, root_seed=6)
    assert seen == [5, 6]


# -- intervals and comparisons -------------------------------------------------------------------------


def test_welch_statistics_by_the_welch_satterthwaite_formula():
    """Welch (1947): se^2 = s_a^2/n_a + s_b^2/n_b, dof = se^4 / sum((s^2/n)^2 / (n - 1)); checked by
    hand on round numbers and against scipy's test from the raw samples."""
    diff, se, dof, p = welch(1.0, 2.0, 4, 3.0, 3.0, 9)  # s^2/n: 1 and 1
    assert (diff, se) == (2.0, np.sqrt(2.0)) and dof == pytest.approx(4 / (1 / 3 + 1 / 8), rel=1e-14)
    assert p == pytest.approx(2 * stats.t.sf(2 / np.sqrt(2), 4 / (1 / 3 + 1 / 8)), rel=1e-12)
    a, b = [0.50, 0.52, 0.47, 0.55, 0.51], [0.58, 0.61, 0.70]
    diff, se, dof, p = welch(np.mean(a), np.std(a, ddof=1), 5, np.mean(b), np.std(b, ddof=1), 3)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert dof == pytest.approx(ref.df, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-12)
    assert diff / se == pytest.approx(ref.statistic, rel=1e-12)
    _, se, dof, p = welch(0.5, 0.0, 3, 0.6, 0.0, 3)
    assert se == 0 and np.isnan(p)  # no spread on either side: no test
    assert np.isnan(welch(0.5, np.nan, 1, 0.6, 0.1, 3)[3])  # one value: no spread to estimate


def test_bh_adjust_row_by_row_and_flags():
    adjusted = bh_adjust([[0.01, 0.04, 0.03], [0.2, np.nan, 0.01]])
    np.testing.assert_allclose(adjusted, [[0.03, 0.04, 0.04], [0.2, np.nan, 0.02]], rtol=1e-14)
    assert np.isnan(bh_adjust([np.nan, np.nan])).all()
    # The boundaries: p exactly alpha is not below it; an effect of exactly min_effect x |mean a| counts.
    assert list(flags([ALPHA, 0.049], [1.0, 1.0], [1.0, 1.0])) == [False, True]
    assert list(flags([0.01, 0.01], [MIN_EFFECT * 2, -MIN_EFFECT * 1.99], [-2.0, 2.0])) == [True, False]
    assert not flags([np.nan], [1.0], [1.0])[0]


def test_metric_range_by_name():
    for name in ("accuracy", "test_acc", "Val_Acc"):
        assert metric_range(name) == (0.0, 1.0)
    for name in ("loss", "cost", "step_s", "images_per_s", "ratio", "error", "max_abs_diff"):
        assert metric_range(name) == (0.0, np.inf)
    assert metric_range("gap") == (-np.inf, np.inf)


def summary_frame(means, stds=0.01, n=5, **params):
    metrics = ["loss", "accuracy", "gap"][:len(means)]
    return pd.DataFrame({**params, "metric": metrics, "mean": means, "std": stds, "n": n, "n_diverged": 0})


def test_compare_summaries_table_by_hand():
    a = summary_frame([0.50, 0.90, 0.10], lr=0.1)
    b = summary_frame([0.60, 0.80, 0.30], n=4, lr=0.1)
    result = compare_summaries(a, b, {"loss": "min", "accuracy": "max"})
    table = result.table
    assert list(table.columns) == ["lr", "metric", "mean_a", "mean_b", "diff", "ci95_welch_low", "ci95_welch_high",
                                   "n_a", "n_b", "p", "p_bh", "significant", "regression"]
    se = np.sqrt(0.01**2 / 5 + 0.01**2 / 4)
    dof = se**4 / ((0.01**2 / 5) ** 2 / 4 + (0.01**2 / 4) ** 2 / 3)
    np.testing.assert_allclose(table["diff"], [0.1, -0.1, 0.2], rtol=1e-12)
    np.testing.assert_allclose(table["ci95_welch_high"] - table["diff"], stats.t.ppf(0.975, dof) * se, rtol=1e-9)
    np.testing.assert_allclose(table["p"], 2 * stats.t.sf(np.abs(table["diff"]) / se, dof), rtol=1e-9)
    assert list(table["n_a"]) == [5] * 3 and list(table["n_b"]) == [4] * 3
    # Worse loss and worse accuracy are regressions; the gap has no direction, so it is only significant.
    assert table["significant"].tolist() == [True, True, True]
    assert table["regression"].tolist() == [True, True, False] and table["regression"].dtype == bool
    assert result.differs == {} and result.only_a.empty and result.only_b.empty


def test_compare_reports_what_differs_and_settings_without_a_partner():
    a = pd.concat([summary_frame([0.5], optimizer="sgd", lr=0.1), summary_frame([0.4], optimizer="adam", lr=0.1)],
                  ignore_index=True)
    b = pd.concat([summary_frame([0.5], optimizer="sgd", lr=0.2), summary_frame([0.4], optimizer="nag", lr=0.2)],
                  ignore_index=True)
    result = compare_summaries(a, b)
    assert result.differs == {"lr": (0.1, 0.2)}
    assert result.table["optimizer"].tolist() == ["sgd"] and not result.table["regression"].any()
    assert result.only_a.to_dict("records") == [{"optimizer": "adam", "metric": "loss"}]
    assert result.only_b.to_dict("records") == [{"optimizer": "nag", "metric": "loss"}]
    text = format_comparison(result)
    assert text.splitlines()[0] == "compared: lr = 0.1 (a) vs 0.2 (b)"
    assert "only in a (no partner, not compared): 1 setting(s)" in text and "adam" in text
    assert "only in b (no partner, not compared): 1 setting(s)" in text and "nag" in text
    assert text.endswith(f"0 significant differences, 0 regressions (b vs a; {METHOD}: FDR 0.05, and |diff| >= "
                         "0.01 x |mean a|)")
    with one_line("the two runs share no parameter setting and metric to compare (matched on optimizer, metric)"):
        compare_summaries(summary_frame([0.5], optimizer="sgd"),
                          summary_frame([0.5], optimizer="sgd").assign(metric="x"))


def test_a_parameter_may_be_named_like_pandas_own_columns():
    """A grid parameter called index or level_0 is matched like any other (pandas names columns so)."""
    a = summary_frame([0.5, 0.9], index=1, level_0=2)
    result = compare_summaries(a, summary_frame([0.6, 0.95], index=1, level_0=2))
    assert result.table[["index", "level_0", "metric"]].values.tolist() == [["1", "2", "loss"], ["1", "2", "accuracy"]]


def test_format_comparison_marks_each_row():
    a = summary_frame([0.50, 0.90, 0.123456])
    b = summary_frame([0.60, 0.95, 0.123457])
    text = format_comparison(compare_summaries(a, b, {"loss": "min", "accuracy": "max"}))
    lines = text.splitlines()
    # pandas' index=False layout: columns right-justified, one space apart, the widest value at the margin
    assert lines[0].startswith("  metric  mean_a") and lines[2].startswith("accuracy     0.9    0.95  0.05")
    assert lines[0].split() == ["metric", "mean_a", "mean_b", "diff", "ci95_welch_low", "ci95_welch_high", "n_a",
                                "n_b", "p", "p_bh", "mark"]
    assert lines[1].split()[0] == "loss" and lines[1].split()[-1] == "REGRESSION"
    assert lines[2].split()[0] == "accuracy" and lines[2].split()[-1] == "*"
    gap = lines[3].split()
    assert gap[:3] == ["gap", "0.1235", "0.1235"] and float(gap[-1]) > 0.05  # four significant digits, no mark
    assert len(lines) == 5 and lines[-1].startswith("2 significant differences, 1 regressions")


def test_format_comparison_lists_each_unmatched_setting_once():
    a = pd.concat([summary_frame([0.5, 0.9], optimizer="sgd"), summary_frame([0.4, 0.8], optimizer="adam")],
                  ignore_index=True)
    b = summary_frame([0.5, 0.9], optimizer="sgd")
    lines = format_comparison(compare_summaries(a, b)).splitlines()
    at = lines.index("only in a (no partner, not compared): 1 setting(s)")  # two metrics, one setting
    assert lines[at + 1:at + 3] == ["optimizer", "     adam"]  # pandas' index=False layout
    assert not any(line.startswith("only in b") for line in lines)
    by_step = compare_summaries(a.assign(step=[1, 2, 1, 2]), b.assign(step=[1, 2]))  # one setting at two steps
    assert "only in a (no partner, not compared): 1 setting(s)" in format_comparison(by_step)
    a = pd.concat([summary_frame([0.5], act="relu"), summary_frame([0.4], act="tanh")], ignore_index=True)
    lines = format_comparison(compare_summaries(a, summary_frame([0.5], act="relu"))).splitlines()
    at = lines.index("only in a (no partner, not compared): 1 setting(s)")
    assert lines[at + 1:at + 3] == [" act", "tanh"]  # pandas' index=False layout: no leading blank


def stored_run(root, experiment, name, summary):
    s = RunStore(root / experiment / name)
    s.open({**IDENTITY, "experiment": experiment})
    s.write_manifest(manifest(experiment=experiment))
    s.write_tables(combine([records()]), summary)
    s.point_latest()
    s.close()
    return s.folder


def test_compare_runs_by_path_name_or_latest(tmp_path):
    first = stored_run(tmp_path, "toy", "one", summary_frame([0.5, 0.9], lr=0.1))
    second = stored_run(tmp_path, "toy", "two", summary_frame([0.6, 0.8], lr=0.1))
    assert resolve(str(first)) == first and resolve("toy/one", tmp_path) == first
    assert resolve("toy", tmp_path) == second  # its latest run
    table = compare_runs("toy/one", "toy", tmp_path, {"loss": "min"}).table
    assert table["metric"].tolist() == ["loss", "accuracy"] and table["regression"].tolist() == [True, False]
    assert not compare_runs("toy/one", "toy", tmp_path, alpha=1e-30).table["significant"].any()
    assert not compare_runs("toy/one", "toy", tmp_path, min_effect=1.0).table["significant"].any()
    other = stored_run(tmp_path, "xor", "three", summary_frame([0.5], lr=0.1))
    with one_line(f"{first} is a run of toy and {other} of xor: compare runs of one experiment"):
        compare_runs(str(first), str(other))


def test_bootstrap_interval_by_enumeration_for_three_seeds():
    """With three seeds the 27 equally likely resamples have means (a_i + a_j + a_k) / 3: the percentile
    interval lies between their second smallest and second largest, inside [min, max]."""
    values = np.array([0.2, 0.5, 0.9])
    means = np.sort([(values[i] + values[j] + values[k]) / 3 for i in range(3) for j in range(3) for k in range(3)])
    low, high = bootstrap_interval(values[None, :], n_resamples=20000)
    assert means[0] <= low[0] <= means[1] and means[-2] <= high[0] <= means[-1]
    lo_seed, hi_seed = bootstrap_interval(values[None, :], seed=1)
    assert lo_seed[0] >= 0.2 and hi_seed[0] <= 0.9


def test_bootstrap_interval_level_and_rows():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((1, 40))
    wide = bootstrap_interval(values, level=0.99)
    narrow = bootstrap_interval(values, level=0.5)
    assert wide[0][0] < narrow[0][0] < values.mean() < narrow[1][0] < wide[1][0]
    low, high = bootstrap_interval([0.3, 0.6])  # one row, given as a list
    assert (low.tolist(), high.tolist()) == ([0.3], [0.6])
    low, high = bootstrap_interval(np.array([[np.inf, 1.0, 2.0]]))  # a non-finite value is not a seed
    assert (low[0], high[0]) == (1.0, 2.0)


def test_t975_on_known_quantiles():
    assert t975(1) == pytest.approx(12.7062047, rel=1e-8) and t975(4) == pytest.approx(2.7764451, rel=1e-8)
    assert t975(np.inf) == pytest.approx(1.9599640, rel=1e-8)


def test_compare_needs_a_real_effect_not_only_a_small_p():
    """flags: adjusted p below alpha AND |diff| >= min_effect x |mean a|: a 0.5% change with a tiny spread
    has p near 0 but stays unflagged at the default 1% minimum; a lower minimum or a stricter alpha decide."""
    a, b = summary_frame([100.0], stds=0.01), summary_frame([100.5], stds=0.01)
    table = compare_summaries(a, b, {"loss": "min"}).table
    assert table["p_bh"].iloc[0] < 1e-10 and not table["significant"].iloc[0]
    assert compare_summaries(a, b, {"loss": "min"}, min_effect=0.001).table["regression"].iloc[0]
    assert not compare_summaries(a, b, alpha=1e-30, min_effect=0.001).table["significant"].iloc[0]


def test_compare_keeps_steps_apart_and_labels_one_sided_parameters():
    a = summary_frame([0.5, 0.9]).assign(step=[1, 1], width=8)
    with one_line("the two runs share no parameter setting and metric to compare (matched on metric, step)"):
        compare_summaries(a, summary_frame([0.5, 0.9]).assign(step=[2, 2]))
    table = compare_summaries(a, summary_frame([0.5, 0.9]).assign(step=[1, 1], depth=3)).table
    assert list(table["width (a)"]) == [8, 8] and list(table["depth (b)"]) == [3, 3]


def test_compare_says_nothing_to_numpy_warnings():
    """Settings whose seeds all agree have no spread: no test, and no RuntimeWarning on the user's screen."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare_summaries(summary_frame([0.5, 0.9], stds=0.0), summary_frame([0.6, 0.9], stds=0.0))
        format_comparison(result)
        _, se, dof, p = welch(np.array([0.5, 0.5]), np.zeros(2), np.array([3, 1]), np.array([0.6, 0.5]), np.zeros(2),
                              np.array([3, 1]))  # no spread, and one seed a side: 0/0 twice
    assert result.table["p"].isna().all() and not result.table["significant"].any()
    assert np.isnan(p).all() and (se == 0).all()


def test_bootstrap_interval_is_scipys_percentile_interval_and_seeded():
    """The reference: scipy.stats.bootstrap on the row alone, percentile method, the same resamples and seed."""
    rng = np.random.default_rng(4)
    values = rng.random((3, 30))
    low, high = bootstrap_interval(values, n_resamples=500, seed=7)
    for i in range(3):
        ref = stats.bootstrap((np.sort(values[i]),), np.mean, method="percentile", n_resamples=500,
                              rng=np.random.default_rng(7)).confidence_interval
        assert (low[i], high[i]) == pytest.approx((ref.low, ref.high), rel=1e-12)
    again = bootstrap_interval(values)
    assert np.array_equal(again[0], bootstrap_interval(values, seed=0)[0])  # the default seed is 0
    assert not np.array_equal(again[0], bootstrap_interval(values, seed=1)[0])


@pytest.mark.parametrize("n", [10, 300])
def test_a_rows_bootstrap_interval_does_not_depend_on_the_rows_beside_it(n):
    """Bit for bit, alone or among 20 rows (one slice at 10 seeds, two at 300): a summary's interval for a
    setting is the same whatever else the grid holds."""
    values = np.random.default_rng(5).normal(0.9, 0.02, (20, n))
    low, high = bootstrap_interval(values, n_resamples=200)
    alone = [bootstrap_interval(values[i:i + 1], n_resamples=200) for i in range(20)]
    assert low.tolist() == [a[0][0] for a in alone] and high.tolist() == [a[1][0] for a in alone]


def test_bootstrap_interval_sees_a_spread_beyond_the_two_smallest_seeds():
    low, high = bootstrap_interval([[0.5, 0.5, 0.9]])
    assert low[0] == 0.5 and 0.5 < high[0] <= 0.9


def test_plain_values_starting_with_letters_split_and_parse_as_text():
    assert parse_value("Xavier") == "Xavier" and split_values("X,Y") == ["X", "Y"]


def test_cell_ids_with_an_identity_and_values_json_cannot_hold():
    exp = replace(TOY, identity=lambda params: {"optimizer_sha256": f"digest of {params['lr']}"})
    params = {"lr": 0.1, "dataset": "moons"}
    assert cell_id(exp, params, 0, 0) == "a403770adc331a8a"  # pinned: stored runs resume by these ids
    assert cell_id(exp, params, 0, 0) != cell_id(exp, {**params, "lr": 0.2}, 0, 0)
    assert cell_id(TOY, {"lr": np.float64(0.1), "where": TOY.__class__}, 0, 0)  # written as text


def test_the_lock_lives_in_the_run_folder_and_closing_an_unopened_store_is_harmless(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    RunStore(tmp_path / "never").close()
    probes = []
    real = tempfile.NamedTemporaryFile
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", lambda **kw: probes.append(kw) or real(**kw))
    s = RunStore(tmp_path / "run")
    s.open(IDENTITY)
    assert (tmp_path / "run" / ".lock").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert probes[0]["dir"] == s.cells_dir  # the write probe is made where the cells will be written
    s.close()

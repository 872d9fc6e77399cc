"""bench.store: names and folders, opening a run folder, its cells, its index and tables."""

import json
import os
import re
import socket
import tempfile

import numpy as np
import pandas as pd
import pytest

from bench.errors import UserError
from bench.store import INDEX, RunStore, default_run_name, resolve_run_dir, results_root
from bench.tables import combine
from nncore.datasets.download import file_digest
from tests.bench.conftest import IDENTITY, manifest, one_line, records


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "toy" / "moons")
    s.open(IDENTITY)
    yield s
    s.close()


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

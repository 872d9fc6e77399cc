"""A run's folder: cell parts written as they finish, the combined tables, the manifest."""

import json
import os
import socket
import tempfile
import time
from pathlib import Path

from bench.atomic import write_joblib, write_parquet, write_text
from bench.errors import UserError
from nncore.datasets.download import file_digest

# What must match for a run folder to be resumed rather than refused.
IDENTITY = ("experiment", "version", "dataset", "root_seed")
INDEX = "index.json"
INDEXED = ("records.parquet", "summary.parquet", "manifest.json")


def _read_parquet(path):
    import pandas as pd  # here, not at the top: a run's start-up needs no pandas

    return pd.read_parquet(path)


def results_root(path=None):
    return Path(path or os.environ.get("NNBENCH_RESULTS") or "results")


def default_run_name(dataset, quick):
    """The dataset's name (npz:/path/moons.npz: npz-moons), plus -quick."""
    if ":" in dataset:
        prefix, _, rest = dataset.partition(":")
        dataset = f"{prefix}-{Path(rest).stem}"
    return f"{dataset}-quick" if quick else dataset


def resolve_run_dir(root, experiment, run="latest"):
    """The folder of an existing run: a path, or a run name under root/experiment ("latest" follows
    the pointer file)."""
    if run and Path(run).is_dir() and (Path(run) / "manifest.json").exists():
        return Path(run)
    base = root / experiment
    if run == "latest":
        pointer = base / "latest"
        if not pointer.exists():
            raise UserError(f"no runs of {experiment} under {base}: run `python -m bench run {experiment}` first")
        try:
            run = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{pointer} is damaged ({type(e).__name__}); delete it, or name the run with --run NAME"
                            ) from None
        if not run or "/" in run or run in (".", ".."):
            raise UserError(f"{pointer} does not name a run folder; delete it, or name the run with --run NAME")
    folder = base / run
    if not (folder / "manifest.json").exists():
        raise UserError(f"{folder} is not a run folder (no manifest.json)")
    return folder


class RunStore:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.cells_dir = self.folder / "cells"

    # -- creation and identity ------------------------------------------------------------------
    def open(self, identity, force=False):
        """Create or reopen the folder for a run with this identity; refuse another grid's folder."""
        try:
            self.cells_dir.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.cells_dir, prefix=".probe")
            probe.close()
        except OSError as e:
            raise UserError(f"cannot write results to {self.folder} ({e.strerror}); pass --results DIR") from None
        self._lock()
        try:
            self._check_identity(identity, force)
        except BaseException:
            self.close()
            raise
        for f in self.cells_dir.iterdir():
            # A killed writer can leave its temporary file behind; never under a final name. The lock
            # says no live run writes here, so every temporary file is a dead one's.
            if force or (f.name.startswith(".") and f.name.endswith(".tmp")):
                f.unlink()

    def _check_identity(self, identity, force):
        manifest = self.read_manifest(damaged_ok=force)
        if manifest and not force:
            theirs = {k: manifest["config"].get(k) for k in IDENTITY}  # read_manifest checked the config
            mine = {k: identity[k] for k in IDENTITY}
            if theirs != mine:
                diff = ", ".join(f"{k} {theirs[k]!r} (asked {mine[k]!r})" for k in IDENTITY if theirs[k] != mine[k])
                raise UserError(f"{self.folder} holds another run: {diff}; choose another --run NAME or add --force")

    def _lock(self):
        """Hold the folder's lock until close(): one writer per run folder. The operating system drops
        the lock when its process dies, so a killed run never blocks the next one."""
        from filelock import FileLock, Timeout

        owner = self.folder / ".lock.owner"
        self._filelock = FileLock(str(self.folder / ".lock"))
        try:
            self._filelock.acquire(timeout=0)
        except Timeout:
            try:
                who = owner.read_text().strip()
            except OSError:
                who = "another process"
            raise UserError(f"{self.folder} is being written by another run ({who}); wait for it to finish, or "
                            "give this one its own folder with --run NAME") from None
        write_text(owner, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%H:%M:%S')}\n")

    def close(self):
        """Release the folder's lock (open takes it)."""
        lock = getattr(self, "_filelock", None)
        if lock is not None:
            lock.release()
            self._filelock = None

    def read_manifest(self, damaged_ok=False):
        """The manifest, None when there is none; a damaged one is a UserError (or None if damaged_ok)."""
        path = self.folder / "manifest.json"
        if not path.exists():
            return None
        try:
            manifest = json.loads(path.read_text())
            if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
                raise ValueError("no config")
            return manifest
        except (OSError, ValueError) as e:
            if damaged_ok:
                return None
            raise UserError(f"{path} is damaged ({type(e).__name__}); run the same command with --force to rebuild "
                            "this run folder") from None

    def write_manifest(self, manifest):
        write_text(self.folder / "manifest.json", json.dumps(manifest, indent=2, default=str))

    def point_latest(self):
        write_text(self.folder.parent / "latest", self.folder.name + "\n")

    # -- cells ----------------------------------------------------------------------------------
    def cell_status(self, cell_id):
        """The cell's status, None when it has none or the status file is damaged (check_cell says which)."""
        path = self.cells_dir / f"{cell_id}.json"
        try:
            status = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return status if isinstance(status, dict) and "status" in status else None

    def check_cell(self, cell_id):
        """None if the stored cell is whole (or absent), else what is wrong with it: an unreadable status,
        or a records file whose SHA-256 is not the one its status recorded."""
        path = self.cells_dir / f"{cell_id}.json"
        if not path.exists():
            return None
        status = self.cell_status(cell_id)
        if status is None:
            return "unreadable status file"
        try:
            digest = file_digest(self.cells_dir / f"{cell_id}.parquet")
        except OSError:
            return "records file missing"
        if status.get("sha256") != digest:
            return "records file does not match its checksum"
        return None

    def discard_cell(self, cell_id):
        for suffix in (".json", ".parquet"):
            (self.cells_dir / f"{cell_id}{suffix}").unlink(missing_ok=True)

    def stored_cells(self):
        """The ids of every cell with a status file in this folder."""
        return {p.stem for p in self.cells_dir.glob("*.json")}

    def is_done(self, cell_id):
        """A cell is done once its status says ok or diverged; failed cells are retried."""
        status = self.cell_status(cell_id)
        return bool(status) and status["status"] in ("ok", "diverged")

    def write_cell(self, cell_id, records, status, artifacts=None):
        """Records and artifacts first, status last: a status file means the rest is complete. Neither
        is fsynced (two fsyncs cost more than a tiny cell's own work): a cell is verified against the
        checksum in its status before it is trusted, so one torn by a machine crash is only run again."""
        table = self.cells_dir / f"{cell_id}.parquet"
        write_parquet(table, records.to_arrow(), durable=False)
        for name, obj in (artifacts or {}).items():
            folder = self.folder / "artifacts" / cell_id
            folder.mkdir(parents=True, exist_ok=True)
            write_joblib(folder / f"{name}.joblib", obj)
        status = {**status, "sha256": file_digest(table)}
        write_text(self.cells_dir / f"{cell_id}.json", json.dumps(status, default=str), durable=False)

    def read_artifact(self, cell_id, name):
        import joblib

        path = self.folder / "artifacts" / cell_id / f"{name}.joblib"
        if not path.exists():
            raise UserError(f"{path} does not exist: no artifact {name!r} for cell {cell_id}")
        return joblib.load(path)

    def read_cell(self, cell_id):
        return _read_parquet(self.cells_dir / f"{cell_id}.parquet")

    def read_cell_rows(self, cell_id):
        """The cell's records as bench.tables.CellRows, which combine joins."""
        import pyarrow.parquet as pq

        from bench.tables import CellRows

        return CellRows.from_arrow(pq.read_table(self.cells_dir / f"{cell_id}.parquet"))

    # -- the index: what the tables were built from ---------------------------------------------
    def _stats(self, cell_ids):
        """Each cell's files as they are (size and modification time of its status and records), and
        the combined files'. A file written since, even the same size, has another time."""
        def stat(path):
            st = os.stat(path)
            return [st.st_size, st.st_mtime_ns]

        return ({c: stat(self.cells_dir / f"{c}.json") + stat(self.cells_dir / f"{c}.parquet") for c in cell_ids},
                {n: stat(self.folder / n) for n in INDEXED})

    def write_index(self, manifest):
        """Record the cells the tables and figures were just built from (after the manifest is written):
        a rerun that finds every one of them, and the tables, exactly as recorded has nothing to do."""
        if not all(s["status"] in ("ok", "diverged") for s in manifest["cells"].values()):
            (self.folder / INDEX).unlink(missing_ok=True)  # cells to retry or run: a rerun has work to do
            return
        cells, tables = self._stats(manifest["cells"])
        os.sync()  # the cells it vouches for (written without fsync) reach the disk before the index does
        write_text(self.folder / INDEX, json.dumps({"cells": cells, "tables": tables,
                                                    "figures": "figures" in manifest}))

    def up_to_date(self, cell_ids, figures):
        """True when the tables hold exactly these cells, all done, and nothing stored has changed since
        they were built: checked by file sizes and times, without reading a cell."""
        try:
            index = json.loads((self.folder / INDEX).read_text())
            if (figures and not index["figures"]) or set(index["cells"]) != set(cell_ids):
                return False
            return self._stats(index["cells"]) == (index["cells"], index["tables"])
        except (OSError, ValueError, KeyError, TypeError):
            return False

    # -- combined tables ------------------------------------------------------------------------
    def write_tables(self, records, summary):
        write_parquet(self.folder / "records.parquet", records)
        self.write_summary(summary)

    def write_summary(self, summary):
        write_parquet(self.folder / "summary.parquet", summary)
        write_text(self.folder / "summary.csv", summary.to_csv(index=False))

    def _read_table(self, name):
        try:
            return _read_parquet(self.folder / f"{name}.parquet")
        except (OSError, ValueError) as e:
            raise UserError(f"{self.folder}: cannot read its tables ({e}); re-run the experiment") from None

    def read_records(self):
        return self._read_table("records")

    def read_summary(self):
        return self._read_table("summary")

    @property
    def figures_dir(self):
        return self.folder / "figures"

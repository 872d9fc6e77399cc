"""A run's folder: cell parts written as they finish, the combined tables, the manifest."""

import json
import os
import tempfile
from pathlib import Path

from bench.atomic import write_joblib, write_parquet, write_text
from bench.errors import UserError

# What must match for a run folder to be resumed rather than refused.
IDENTITY = ("experiment", "version", "dataset", "root_seed")


def _read_parquet(path):
    import pandas as pd  # here, not at the top: a run's start-up needs no pandas

    return pd.read_parquet(path)


def results_root(path=None):
    return Path(path or os.environ.get("NNBENCH_RESULTS") or "results")


def default_run_name(dataset, quick):
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
        run = pointer.read_text().strip()
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
        manifest = self.read_manifest()
        if manifest and not force:
            theirs = {k: manifest.get("config", {}).get(k) for k in IDENTITY}
            mine = {k: identity[k] for k in IDENTITY}
            if theirs != mine:
                diff = ", ".join(f"{k} {theirs[k]!r} (asked {mine[k]!r})" for k in IDENTITY if theirs[k] != mine[k])
                raise UserError(f"{self.folder} holds another run: {diff}; choose another --run NAME or add --force")
        for f in self.cells_dir.iterdir():
            # A killed writer can leave its temporary file behind; never under a final name.
            if force or (f.name.startswith(".") and f.name.endswith(".tmp")):
                f.unlink()

    def read_manifest(self):
        path = self.folder / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else None

    def write_manifest(self, manifest):
        write_text(self.folder / "manifest.json", json.dumps(manifest, indent=2, default=str))

    def point_latest(self):
        write_text(self.folder.parent / "latest", self.folder.name + "\n")

    # -- cells ----------------------------------------------------------------------------------
    def cell_status(self, cell_id):
        path = self.cells_dir / f"{cell_id}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def stored_cells(self):
        """The ids of every cell with a status file in this folder."""
        return {p.stem for p in self.cells_dir.glob("*.json")}

    def is_done(self, cell_id):
        """A cell is done once its status says ok or diverged; failed cells are retried."""
        status = self.cell_status(cell_id)
        return bool(status) and status["status"] in ("ok", "diverged")

    def write_cell(self, cell_id, records, status, artifacts=None):
        """Records and artifacts first, status last: a status file means the rest is complete on disk."""
        write_parquet(self.cells_dir / f"{cell_id}.parquet", records)
        for name, obj in (artifacts or {}).items():
            folder = self.folder / "artifacts" / cell_id
            folder.mkdir(parents=True, exist_ok=True)
            write_joblib(folder / f"{name}.joblib", obj)
        write_text(self.cells_dir / f"{cell_id}.json", json.dumps(status, default=str))

    def read_artifact(self, cell_id, name):
        import joblib

        path = self.folder / "artifacts" / cell_id / f"{name}.joblib"
        if not path.exists():
            raise UserError(f"{path} does not exist: no artifact {name!r} for cell {cell_id}")
        return joblib.load(path)

    def read_cell(self, cell_id):
        return _read_parquet(self.cells_dir / f"{cell_id}.parquet")

    # -- combined tables ------------------------------------------------------------------------
    def write_tables(self, records, summary):
        write_parquet(self.folder / "records.parquet", records)
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

"""The Python API and the orchestration behind `python -m bench run`: resolve the grid, open the
run folder, run the missing cells, combine the tables, draw the figures, write the manifest.

Start-up imports neither pandas nor matplotlib: a pooled run imports them once its cells are
dispatched, so the driver's imports overlap the workers' start-up instead of preceding it.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from bench import registry
from bench.errors import UserError
from bench.grid import expand, parse_overrides, resolve_grid
from bench.provenance import code_version, machine, package_versions
from bench.report import context_of, save_figures
from bench.runner import FailFast, execute, pool_size
from bench.store import RunStore, default_run_name, resolve_run_dir, results_root

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class RunResult:
    """A run's tables and folder: `.records` (tidy long), `.summary` (per setting), `.path`."""

    records: pd.DataFrame
    summary: pd.DataFrame
    path: Path
    manifest: dict

    @property
    def statuses(self):
        return {cid: c["status"] for cid, c in self.manifest["cells"].items()}

    @property
    def failed(self):
        return [cid for cid, s in self.statuses.items() if s == "failed"]

    @property
    def pending(self):
        return [cid for cid, s in self.statuses.items() if s == "pending"]

    def artifact(self, cell_id, name):
        """An object a cell saved (Recorder.save), loaded back with joblib."""
        return RunStore(self.path).read_artifact(cell_id, name)


def _prepare_dataset(dataset):
    """Make sure an image set is on disk before any worker starts (one download, not one per worker)."""
    from nncore.datasets import IMAGE_SPECS, mnist

    if dataset in IMAGE_SPECS:
        mnist.locate(IMAGE_SPECS[dataset])


def _normalize_overrides(experiment, overrides):
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        items = [f"{k}={_as_text(v)}" for k, v in overrides.items()]
    else:
        items = list(overrides)
    return parse_overrides(items, experiment)


def _as_text(values):
    import json

    values = values if isinstance(values, list) else [values]
    return ",".join(v if isinstance(v, str) else json.dumps(v) for v in values)


def run(name, backend="loky", scheduler=None, **options):
    """Run (or resume) an experiment's grid and return its RunResult.

    Options: overrides ({"lr": [0.01, 0.1]} or ["lr=0.01,0.1"]), jobs (worker processes, default
    runner.pool_size: one per core), seeds, dataset, quick, run (the run folder's name, default the
    dataset plus "-quick"), force (re-run every cell), results_dir, fail_fast, root_seed, blas_threads,
    progress, figures, log.
    backend: "loky" (this machine) or "dask" (the cluster at `scheduler`, or a LocalCluster).
    """
    if backend not in ("loky", "dask"):
        raise UserError(f"unknown backend {backend!r}: use loky or dask")
    if backend == "loky":
        return _run(name, **options)
    from bench.dask_backend import dask_cluster

    with dask_cluster(scheduler) as (client, config):
        log = options.get("log") or _stderr
        log(f"dask: {len(client.scheduler_info()['workers'])} workers at {client.scheduler.address}")
        return _run(name, parallel_config=config, **options)


def _stderr(msg):
    print(msg, file=sys.stderr)


def _run(name, overrides=None, jobs=None, seeds=None, dataset=None, quick=False, run=None, force=False,
         results_dir=None, fail_fast=False, root_seed=0, blas_threads=1, progress=None, figures=True,
         parallel_config=None, log=None):
    log = log or _stderr
    experiment = registry.get(name)
    grid, dataset, n_seeds = resolve_grid(experiment, _normalize_overrides(experiment, overrides),
                                          dataset, quick, seeds)
    cells = expand(experiment, grid, dataset, n_seeds, root_seed)
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    if parallel_config is None:  # a cluster's workers find (or fetch) their data themselves
        _prepare_dataset(dataset)

    store = RunStore(results_root(results_dir) / name / (run or default_run_name(dataset, quick)))
    identity = {"experiment": name, "version": experiment.version, "dataset": dataset, "root_seed": root_seed}
    store.open(identity, force=force)
    others = store.stored_cells() - {c.cell_id for c in cells}
    if others:  # the tables must hold every cell the folder holds: refuse rather than drop them silently
        raise UserError(f"{store.folder} holds {len(others)} cells that this grid does not (another --set, "
                        "--seeds or --quick): give this grid its own folder with --run NAME, or add --force to "
                        "discard them")
    previous = store.read_manifest() or {}
    pending = [c for c in cells if not store.is_done(c.cell_id)]
    if parallel_config:
        jobs = -1  # on a cluster: every worker
    else:
        jobs = jobs or pool_size(len(pending), os.cpu_count() or 1)
    manifest = {
        "config": {**identity, "grid": grid, "seeds": n_seeds, "quick": quick, "jobs": jobs,
                   "blas_threads": blas_threads, "run": store.folder.name,
                   "parallel": (parallel_config or {}).get("backend", "loky" if jobs > 1 else "in-process")},
        "code_version": code_version(),
        "packages": package_versions(),
        "machine": machine(),
        "started": previous.get("started") if not force else None,
        "resumed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cells": {},
    }
    manifest["started"] = manifest["started"] or manifest["resumed"]
    store.write_manifest(manifest)
    store.point_latest()

    skipped = len(cells) - len(pending)
    note = f"{name}: {len(cells)} cells, {skipped} already done, running {len(pending)}"
    if experiment.run_alone and pending:
        note += " one at a time here (timing cells run alone" + (", never on the cluster)" if parallel_config else ")")
    log(note + f" -> {store.folder}")

    show = progress if progress is not None else sys.stderr.isatty()
    bar = tqdm(total=len(pending), desc=name, unit="cell", disable=not show, dynamic_ncols=True)

    def on_result(result):
        store.write_cell(result.cell.cell_id, result.records, result.status, result.artifacts)
        bar.update()
        if result.status["status"] != "ok":
            log(f"cell {result.cell.cell_id} {result.status['status']}: {result.status.get('message')}")
        if result.status["status"] == "failed" and fail_fast:
            raise FailFast()

    try:
        execute(experiment, pending, on_result, jobs=jobs, root_seed=root_seed, blas_threads=blas_threads,
                parallel_config=parallel_config, while_waiting=lambda: _import_for_finish(figures))
    except FailFast:
        log("stopped at the first failed cell (--fail-fast)")
    except UserError:
        raise
    except Exception as e:  # the pool or cluster broke (e.g. a worker killed too often): keep what finished
        log(f"the {manifest['config']['parallel']} backend stopped: {type(e).__name__}: {e}; finished cells are "
            "saved, run the same command again to complete the grid")
    finally:
        bar.close()

    return finish(experiment, store, cells, manifest, figures)


def _import_for_finish(figures):
    """Import what `finish` uses (pandas and pyarrow; matplotlib when it draws)."""
    modules = ["bench.tables", "pyarrow.parquet"]
    if figures:
        modules += ["matplotlib.figure", "matplotlib.backends.backend_agg"]
    for module in modules:
        importlib.import_module(module)


def finish(experiment, store, cells, manifest, figures=True):
    """Combine the finished cells of this grid into the run's tables, figures and manifest."""
    import pandas as pd

    from bench.tables import combine, summarize

    parts, statuses = [], {}
    for cell in cells:
        status = store.cell_status(cell.cell_id)
        statuses[cell.cell_id] = status or {"status": "pending", "seed": cell.seed, "params": cell.params}
        if status and status["status"] != "failed":
            parts.append(store.read_cell(cell.cell_id))
    manifest["cells"] = statuses
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if parts:
        records = combine(parts)
        summary = summarize(records, experiment.summary_metrics, experiment.summary_by_step)
        store.write_tables(records, summary)
        if experiment.headline:
            manifest["headline"] = experiment.headline(records)
        if figures:
            manifest["figures"] = save_figures(experiment, records, store.figures_dir,
                                               context_of(manifest["config"], store.folder))
    else:
        records = summary = pd.DataFrame()
    store.write_manifest(manifest)
    return RunResult(records, summary, store.folder, manifest)


def load(name, run="latest", results_dir=None):
    """A stored run's RunResult, read from its folder without running anything."""
    folder = resolve_run_dir(results_root(results_dir), name, run)
    store = RunStore(folder)
    return RunResult(store.read_records(), store.read_summary(), folder, store.read_manifest())

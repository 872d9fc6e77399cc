"""The Python API and the orchestration behind `python -m bench run`: resolve the grid, open the
run folder, run the missing cells, combine the tables, draw the figures, write the manifest.

Start-up imports neither pandas nor matplotlib: a pooled run imports them once its cells are
dispatched, so the driver's imports overlap the workers' start-up instead of preceding it.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench import plugins, registry
from bench.errors import UserError
from bench.grid import describe, expand, final_cells, parse_overrides, resolve_grid, tune_cells, values_text
from bench.provenance import code_version, machine, package_versions
from bench.report import context_of, save_figures, save_tables, summary_table
from bench.runner import FailFast, execute, pool_size
from bench.store import RunStore, default_run_name, resolve_run_dir, results_root
from bench.tuning import FINAL, STAGE
from nncore.datasets import fingerprint

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


def _prepare_dataset(dataset, grid):
    """Check an image set once, in the driver, before any cell runs: found (or downloaded once, not once
    per worker), read and validated, and its prepared cache verified against its source files for
    each dtype the grid uses. The workers then map the verified arrays. A problem is a DatasetError."""
    from nncore.datasets import IMAGE_SPECS, load

    if dataset in IMAGE_SPECS:
        for dtype in grid.get("dtype", ["float64"]):
            load(dataset, dtype=np.dtype(dtype), verify=True)
    # An outside data set was loaded and checked when the grid was resolved (bench.grid.resolve_dataset).


MAX_SEEDS = 1000
MAX_ROOT_SEED = 2**63 - 1  # stored as a 64-bit integer in manifests and tables
JOBS_PER_CORE = 4
RUN_NAME = re.compile(r"[A-Za-z0-9._-]+")


def check_run_name(run):
    """A run folder's name is a plain name inside its experiment's folder: nothing is written elsewhere."""
    if not isinstance(run, str) or not RUN_NAME.fullmatch(run) or run in (".", ".."):
        raise UserError(f"bad run name {run!r}: use letters, digits, '.', '_' and '-' (a folder under "
                        "results/EXPERIMENT/); to write elsewhere, pass --results DIR")
    return run


def _whole(name, value, low, high, hint=""):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{name} must be a whole number from {low:,} to {high:,}, got {value!r}{hint}")
    return value


def check_options(jobs=None, seeds=None, blas_threads=1, root_seed=0, run=None):
    """The run options, checked before anything runs or is written."""
    cores = os.cpu_count() or 1
    if jobs is not None:
        _whole("--jobs", jobs, 1, JOBS_PER_CORE * cores, f" (at most {JOBS_PER_CORE} per core; this machine has "
               f"{cores}; for more, use --backend dask)")
    if seeds is not None:
        _whole("--seeds", seeds, 1, MAX_SEEDS)
    _whole("--blas-threads", blas_threads, 1, cores, f" (this machine has {cores} cores)")
    _whole("--root-seed", root_seed, 0, MAX_ROOT_SEED)
    if run is not None:
        check_run_name(run)


def _normalize_overrides(experiment, overrides):
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        items = [f"{k}={values_text(v)}" for k, v in overrides.items()]
    else:
        items = list(overrides)
    return parse_overrides(items, experiment)


def run(name, backend="loky", scheduler=None, connect_timeout=None, dask_logs=False, **options):
    """Run (or resume) an experiment's grid and return its RunResult.

    Options: overrides ({"lr": [0.01, 0.1]} or ["lr=0.01,0.1"]), jobs (worker processes, default
    runner.pool_size: one per core), seeds, dataset, quick, run (the run folder's name, default the
    dataset plus "-quick"), force (re-run every cell), results_dir, fail_fast, root_seed, blas_threads,
    progress, figures, log.
    backend: "loky" (this machine) or "dask" (the cluster at `scheduler`, or a LocalCluster), which
    must answer within connect_timeout seconds (default 10); dask_logs shows distributed's own log.
    """
    if backend not in ("loky", "dask"):
        raise UserError(f"unknown backend {backend!r}: use loky or dask")
    # Every input is checked, once, before a cluster is contacted, a cell runs or a file is written.
    check_options(options.get("jobs"), options.get("seeds"), options.get("blas_threads", 1),
                  options.get("root_seed", 0), options.get("run"))
    experiment = registry.get(name)
    overrides = _normalize_overrides(experiment, options.pop("overrides", None))
    grid, dataset, n_seeds = resolve_grid(experiment, overrides, options.pop("dataset", None),
                                          options.get("quick", False), options.pop("seeds", None))
    if backend == "loky":
        return _run(experiment, grid, dataset, n_seeds, **options)
    from bench.dask_backend import CONNECT_TIMEOUT, dask_cluster

    if connect_timeout is not None and not (isinstance(connect_timeout, (int, float)) and 0 < connect_timeout <= 3600):
        raise UserError(f"--connect-timeout must be a number of seconds in (0, 3600], got {connect_timeout!r}")
    with dask_cluster(scheduler, connect_timeout or CONNECT_TIMEOUT, dask_logs) as (client, config):
        log = options.get("log") or _stderr
        log(f"dask: {len(client.scheduler_info()['workers'])} workers at {client.scheduler.address}")
        return _run(experiment, grid, dataset, n_seeds, parallel_config=config, **options)


def _stderr(msg):
    print(msg, file=sys.stderr)


def _run(experiment, grid, dataset, n_seeds, jobs=None, quick=False, run=None, force=False, results_dir=None,
         fail_fast=False, root_seed=0, blas_threads=1, progress=None, figures=True, parallel_config=None, log=None):
    """The grid run() resolved and checked: open the folder, run the missing cells, finish."""
    log = log or _stderr
    name = experiment.name
    cells = expand(experiment, grid, dataset, n_seeds, root_seed)
    if parallel_config is None:  # a cluster's workers find (or fetch) their data themselves
        _prepare_dataset(dataset, grid)

    store = RunStore(results_root(results_dir) / name / (run or default_run_name(dataset, quick)))
    identity = {"experiment": name, "version": experiment.version, "dataset": dataset, "root_seed": root_seed}
    store.open(identity, force=force)
    try:
        return _run_in(store, experiment, identity, grid, cells, n_seeds, quick, jobs, force, fail_fast, root_seed,
                       blas_threads, progress, figures, parallel_config, log)
    finally:
        store.close()


def _run_in(store, experiment, identity, grid, cells, n_seeds, quick, jobs, force, fail_fast, root_seed,
            blas_threads, progress, figures, parallel_config, log):
    """The part of a run that holds its folder's lock: check what is stored, run what is missing, finish.
    A tuned experiment's final stage is known once its tune stage is: it runs second."""
    name = experiment.name
    others = store.stored_cells() - {c.cell_id for c in cells}
    if experiment.tuning:  # final cells follow from the tune stage: checked once it is complete
        others = {c for c in others if not _is_final(store, c)}
    if others:  # the tables must hold every cell the folder holds: refuse rather than drop them silently
        raise UserError(f"{store.folder} holds {len(others)} cells that this grid does not (another --set, "
                        "--seeds or --quick): give this grid its own folder with --run NAME, or add --force to "
                        "discard them")
    if not force and not experiment.tuning and store.up_to_date([c.cell_id for c in cells], figures):
        log(f"{name}: all {len(cells)} cells done and unchanged since the tables were built: nothing to do "
            f"-> {store.folder}")
        return load(name, store.folder)
    _discard_damaged(store, cells, log)
    previous = store.read_manifest(damaged_ok=force) or {}
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
        "data": fingerprint(identity["dataset"]),
        "plugins": plugins.loaded(),
        "packages": package_versions(),
        "machine": machine(),
        "started": previous.get("started") if not force else None,
        "resumed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cells": {},
    }
    manifest["started"] = manifest["started"] or manifest["resumed"]
    store.write_manifest(manifest)
    store.point_latest()

    stage = " (tune stage)" if experiment.tuning else ""
    fresh = {}  # cell id -> the records of each cell run now: finish need not read them back
    run = dict(jobs=jobs, root_seed=root_seed, blas_threads=blas_threads, parallel_config=parallel_config,
               backend=manifest["config"]["parallel"], fail_fast=fail_fast, progress=progress, figures=figures,
               log=log, fresh=fresh)
    complete = _run_cells(store, experiment, cells, pending, f"{name}{stage}", **run)
    if experiment.tuning:
        if complete:
            final = _final_stage(store, experiment, grid, identity["dataset"], n_seeds, root_seed, log)
            _discard_damaged(store, final, log)
            _run_cells(store, experiment, final, [c for c in final if not store.is_done(c.cell_id)],
                       f"{name} (final stage)", **run)
            cells = cells + final
        else:
            log(f"{name}: the final stage waits for the tune stage; run the same command again to finish it")
    return finish(experiment, store, cells, manifest, figures, fresh)


def _is_final(store, cell_id):
    """Whether a stored cell belongs to a tuned experiment's final stage."""
    return (store.cell_status(cell_id) or {}).get("params", {}).get(STAGE) == FINAL


def _discard_damaged(store, cells, log):
    for cell in cells:  # verify, then trust: a damaged stored cell is computed again, never read
        problem = store.check_cell(cell.cell_id)
        if problem:
            log(f"cell {describe(cell)}: {problem}; computing it again")
            store.discard_cell(cell.cell_id)


def _final_stage(store, experiment, grid, dataset, n_seeds, root_seed, log):
    """The final stage's cells, from the stored tune stage; stored final cells of trials that are no
    longer the best (more trials found a better one) are discarded, so the tables hold only these."""
    metric = experiment.tuning.metric

    def score(cell):
        status = store.cell_status(cell.cell_id)
        if not status or status["status"] != "ok":
            return None
        records = store.read_cell(cell.cell_id)
        values = records.loc[records["metric"] == metric, "value"]
        return float(values.iloc[-1]) if len(values) else None

    groups = tune_cells(experiment, grid, dataset, root_seed)
    final, unfinished = final_cells(experiment, groups, score, dataset, n_seeds, root_seed)
    for cell in unfinished:
        log(f"{describe(cell)}: no trial finished with a finite {metric}; nothing to confirm in the final stage")
    known = {c.cell_id for group in groups for c in group} | {c.cell_id for c in final}
    stale = [c for c in store.stored_cells() - known if _is_final(store, c)]
    if stale:
        log(f"{len(stale)} final-stage cells of trials that are no longer the best are discarded")
        for cell_id in stale:
            store.discard_cell(cell_id)
    return final


def _run_cells(store, experiment, cells, pending, label, jobs, root_seed, blas_threads, parallel_config, backend,
               fail_fast, progress, figures, log, fresh):
    """Run the pending cells of one stage, storing each as it finishes (and keeping its records in
    `fresh`); True when every pending cell has run (ok, diverged or failed: each stored its status as it
    arrived), False when the run stopped early."""
    skipped = len(cells) - len(pending)
    note = f"{label}: {len(cells)} cells, {skipped} already done, running {len(pending)}"
    if experiment.run_alone and pending:
        note += " one at a time here (timing cells run alone" + (", never on the cluster)" if parallel_config else ")")
    log(note + f" -> {store.folder}")

    show = progress if progress is not None else sys.stderr.isatty()
    bar = _progress_bar(len(pending), label) if show else _NoBar()

    def on_result(result):
        store.write_cell(result.cell.cell_id, result.records, result.status, result.artifacts)
        if result.status["status"] != "failed":
            fresh[result.cell.cell_id] = result.records
        bar.update()
        if result.status["status"] != "ok":
            log(f"cell {describe(result.cell)} {result.status['status']}: {result.status.get('message')}")
        if result.status["status"] == "failed" and fail_fast:
            raise FailFast()

    try:
        execute(experiment, pending, on_result, jobs=jobs, root_seed=root_seed, blas_threads=blas_threads,
                parallel_config=parallel_config, while_waiting=lambda: _import_for_finish(figures))
    except FailFast:
        log("stopped at the first failed cell (--fail-fast)")
        return False
    except UserError:
        raise
    except Exception as e:  # the pool or cluster broke (a worker killed too often, the scheduler lost)
        done = sum(store.is_done(c.cell_id) for c in cells)
        reason = (str(e).strip().splitlines() or [""])[0][:200]
        log(f"the {backend} backend stopped ({type(e).__name__}: {reason}); {done} of "
            f"{len(cells)} cells are stored: run the same command again to resume")
        return False
    finally:
        bar.close()
    return True


class _NoBar:
    """What a run without a progress bar updates."""

    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress_bar(total, label):
    from tqdm.auto import tqdm  # only when a bar is shown: importing it costs a start-up 65 ms

    return tqdm(total=total, desc=label, unit="cell", dynamic_ncols=True)


def _import_for_finish(figures):
    """Import what `finish` uses (pandas and pyarrow; matplotlib when it draws)."""
    modules = ["bench.tables", "pyarrow.parquet"]
    if figures:
        modules += ["matplotlib.figure", "matplotlib.backends.backend_agg"]
    for module in modules:
        importlib.import_module(module)


def finish(experiment, store, cells, manifest, figures=True, fresh=None):
    """Combine the finished cells of this grid into the run's tables, figures and manifest; `fresh`
    holds the records of cells run just now, the others are read from the folder."""
    fresh = fresh or {}
    import pandas as pd

    from bench.tables import combine

    parts, statuses = [], {}
    for cell in cells:
        status = store.cell_status(cell.cell_id)
        statuses[cell.cell_id] = status or {"status": "pending", "seed": cell.seed, "params": cell.params}
        if status and status["status"] != "failed":
            parts.append(fresh[cell.cell_id] if cell.cell_id in fresh else store.read_cell_rows(cell.cell_id))
    manifest["cells"] = statuses
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if parts:
        records = combine(parts)
        summary = summary_table(experiment, records)
        store.write_tables(records, summary)
        if experiment.headline:
            manifest["headline"] = experiment.headline(records)
        manifest["tables"] = save_tables(experiment, records, store.folder / "tables")
        if figures:
            manifest["figures"] = save_figures(experiment, records, store.figures_dir,
                                               context_of(manifest["config"], store.folder))
    else:
        records = summary = pd.DataFrame()
    store.write_manifest(manifest)
    if parts:
        store.write_index(manifest)
    return RunResult(records, summary, store.folder, manifest)


def load(name, run="latest", results_dir=None):
    """A stored run's RunResult, read from its folder without running anything."""
    folder = resolve_run_dir(results_root(results_dir), name, run)
    store = RunStore(folder)
    return RunResult(store.read_records(), store.read_summary(), folder, store.read_manifest())

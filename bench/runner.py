"""Runs cells: in this process or a joblib pool, each with its own seeded Generator, and hands
every finished cell to a callback as soon as it finishes. Knows nothing of any experiment."""

import time
import traceback
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from joblib import parallel_config as joblib_config
from threadpoolctl import threadpool_limits

from bench.records import COLUMNS, Diverged, Recorder
from bench.tables import cell_records


@dataclass
class CellResult:
    cell: object
    records: pd.DataFrame
    status: dict
    artifacts: dict


def cell_rng(root_seed, cell_id):
    """The cell's Generator: SeedSequence keyed by the root seed and the cell id, so a cell draws the
    same numbers in any process, in any order."""
    words = [int(cell_id[i:i + 8], 16) for i in range(0, len(cell_id), 8)]
    return np.random.default_rng(np.random.SeedSequence([root_seed, *words]))


def _as_table(out):
    if isinstance(out, Recorder):
        return out.table()
    if isinstance(out, pd.DataFrame):
        return out[COLUMNS]
    return pd.DataFrame(list(out), columns=COLUMNS)


def run_cell(experiment, cell, root_seed, blas_threads=1):
    """Run one cell; never raises for the cell's own errors, which become its status.

    BLAS runs with a fixed thread count (1 in the pool): OpenBLAS results differ in the last bits
    between thread counts, and a cell must give the same bits whatever --jobs is.
    """
    start = time.perf_counter()
    status = {"status": "ok", "seed": cell.seed, "params": cell.params}
    artifacts = {}
    # Overflow on the way to a NaN is expected in a diverging cell; the harness records it instead.
    with threadpool_limits(limits=blas_threads, user_api="blas"), np.errstate(all="ignore"):
        try:
            out = experiment.run(dict(cell.params), cell_rng(root_seed, cell.cell_id))
            records = _as_table(out)
            artifacts = getattr(out, "artifacts", {})
        except Diverged as d:
            records = d.records.table()
            records.loc[len(records)] = [d.step, np.nan, "diverged_at", float(d.step)]
            status.update(status="diverged", step=d.step, message=str(d))
        except Exception as e:  # a failing cell must not take the grid down
            records = pd.DataFrame(columns=COLUMNS)
            status.update(status="failed", message=f"{type(e).__name__}: {e}",
                          traceback=traceback.format_exc(limit=8))
    status["wall_time"] = time.perf_counter() - start
    status["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return CellResult(cell, cell_records(cell, records), status, artifacts)


class FailFast(Exception):
    pass


def execute(experiment, cells, on_result, jobs=1, root_seed=0, blas_threads=1, parallel_config=None):
    """Run `cells`, calling on_result(CellResult) in the calling process as each one finishes.

    Pooled cells go to joblib (unordered, so a slow cell holds nothing back); an experiment whose
    cells must run alone (timings) runs them here, one after another, nothing else competing.
    on_result may raise FailFast to stop the grid.
    """
    if experiment.run_alone or (jobs == 1 and parallel_config is None):
        for cell in cells:
            on_result(run_cell(experiment, cell, root_seed, blas_threads))
        return
    tasks = (delayed(run_cell)(experiment, cell, root_seed, blas_threads) for cell in cells)
    # joblib_config (not an argument of Parallel) is what registers joblib's dask backend.
    with joblib_config(**(parallel_config or {})):
        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks)
        try:
            for result in results:
                on_result(result)
        finally:
            close = getattr(results, "close", None)
            if close:
                close()  # on fail-fast, cancel what is still queued

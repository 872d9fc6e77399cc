"""Runs cells: in this process or a joblib pool, each with its own seeded Generator, and hands
every finished cell to a callback as soon as it finishes. Knows nothing of any experiment."""

import os

from bench.cell import run_cell
from nncore.datasets.mnist import DATA_ENV


def _tabled(result):
    from bench.tables import cell_rows  # pandas: imported when the first cell is done, not at start-up

    result.records = cell_rows(result.cell, result.records, result.used)
    return result


def pool_size(n_cells, cores):
    """Worker processes when the user names none: one per core, but never more than cells (one cell
    runs in this process, without starting a pool), and one per cell for a grid of more cells than
    cores but fewer than two rounds. Three equal cells on two cores then share the cores and all end at
    1.5x one cell's time, where two rounds would take 2x with a core idle in the second. Cells are
    single-threaded, so sharing changes no result."""
    return max(1, n_cells) if n_cells < 2 * cores else cores


class FailFast(Exception):
    pass


def execute(experiment, cells, on_result, jobs=1, root_seed=0, blas_threads=1, parallel_config=None,
            while_waiting=None):
    """Run `cells`, calling on_result(CellResult) in the calling process as each one finishes.

    Pooled cells go to joblib (unordered, so a slow cell holds nothing back); an experiment whose
    cells must run alone (timings) runs them here, one after another, nothing else competing.
    on_result may raise FailFast to stop the grid. while_waiting() is called once the pooled cells
    are dispatched: work the caller needs later (imports) then overlaps the workers' start-up.
    """
    if experiment.run_alone or (jobs == 1 and parallel_config is None):
        for cell in cells:
            on_result(_tabled(run_cell(experiment, cell, root_seed, blas_threads)))
        return
    from joblib import Parallel, delayed  # here: a run of one cell, in this process, never needs joblib
    from joblib import parallel_config as joblib_config

    driver = os.getpid()
    # A Dask worker finds its data itself; a pool worker reads what the driver checked.
    data_env = None if parallel_config else {k: os.environ.get(k) for k in DATA_ENV}
    tasks = (delayed(run_cell)(experiment, cell, root_seed, blas_threads, driver, data_env) for cell in cells)
    # joblib_config (not an argument of Parallel) is what registers joblib's dask backend.
    with joblib_config(**(parallel_config or {})):
        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks)  # dispatches at once
        try:
            if while_waiting:
                while_waiting()
            for result in results:
                on_result(_tabled(result))
        finally:
            results.close()  # on fail-fast, cancel what is still queued

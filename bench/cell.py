"""One cell run in whatever process holds it: its own seeded Generator, a fixed BLAS thread count,
and its errors turned into a status. Imports no pandas, so a worker starts with little more than numpy."""

import os
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from bench.records import DIVERGED_AT, Diverged, Recorder


@dataclass
class CellResult:
    cell: object
    records: object  # rows (step, epoch, metric, value) or a DataFrame the experiment returned; the
    # driver turns them into bench.tables.CellRows
    status: dict
    artifacts: dict
    used: dict  # parameter -> the value the cell used for it (Recorder.use)


def cell_rng(root_seed, cell_id):
    """The cell's Generator: SeedSequence keyed by the root seed and the cell id, so a cell draws the
    same numbers in any process, in any order."""
    words = [int(cell_id[i:i + 8], 16) for i in range(0, len(cell_id), 8)]
    return np.random.default_rng(np.random.SeedSequence([root_seed, *words]))


_watching = False


def watch_driver(driver_pid, every=1.0):
    """In a worker process started by the driver: exit within `every` seconds of the driver's death,
    instead of finishing a cell nobody will store (a killed driver cannot tell its pool to stop)."""
    global _watching
    if _watching or os.getpid() == driver_pid or os.getppid() != driver_pid:
        return  # the driver itself, or a process it did not start (a Dask worker has its own nanny)
    _watching = True

    def watch():
        while os.getppid() == driver_pid:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="nnbench-watch-driver", daemon=True).start()


def run_cell(experiment, cell, root_seed, blas_threads=1, driver_pid=None, data_env=None):
    """Run one cell; never raises for the cell's own errors, which become its status.

    BLAS runs with a fixed thread count (1 in the pool): OpenBLAS results differ in the last bits
    between thread counts, and a cell must give the same bits whatever --jobs is. data_env: the
    driver's data variables (nncore.datasets.mnist.DATA_ENV), applied in a reused pool worker that
    was started under other ones, so every cell reads the data the driver checked.
    """
    if driver_pid is not None:
        watch_driver(driver_pid)
    for name, value in (data_env or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    start = time.perf_counter()
    status = {"status": "ok", "seed": cell.seed, "params": cell.params}
    records, artifacts, used = [], {}, {}
    # Overflow on the way to a NaN is expected in a diverging cell; the harness records it instead.
    with threadpool_limits(limits=blas_threads, user_api="blas"), np.errstate(all="ignore"):
        try:
            out = experiment.run(dict(cell.params), cell_rng(root_seed, cell.cell_id))
            records = out.rows if isinstance(out, Recorder) else out if hasattr(out, "columns") else list(out)
            artifacts, used = getattr(out, "artifacts", {}), getattr(out, "used", {})
        except Diverged as d:
            records, used = d.records.rows + [(d.step, np.nan, DIVERGED_AT, float(d.step))], d.records.used
            status.update(status="diverged", step=d.step, message=str(d))
        except Exception as e:  # a failing cell must not take the grid down
            status.update(status="failed", message=f"{type(e).__name__}: {e}",
                          traceback=traceback.format_exc(limit=8))
    status["wall_time"] = time.perf_counter() - start
    status["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return CellResult(cell, records, status, artifacts, {k: v for k, v in used.items() if k in cell.params})

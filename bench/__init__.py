"""nnbench's harness: experiments as grids of cells, run in parallel, stored as tidy tables."""

from bench.errors import UserError
from bench.experiment import Experiment
from bench.records import ACCURACY, LOSS, SECONDS, Diverged, Metric, Recorder
from bench.registry import register

__all__ = ["Experiment", "Metric", "ACCURACY", "LOSS", "SECONDS", "Recorder", "Diverged", "RunResult", "UserError",
           "load", "register", "run"]


def __getattr__(name):
    # run/load/RunResult bring pandas, matplotlib and tqdm: imported on first use, so a worker process
    # that only needs Experiment and Recorder starts without them.
    if name in ("run", "load", "RunResult"):
        from bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")

"""nnbench's harness: experiments as grids of cells, run in parallel, stored as tidy tables."""

from bench.api import RunResult, load, run
from bench.errors import UserError
from bench.experiment import Experiment
from bench.records import Diverged, Recorder
from bench.registry import register

__all__ = ["Experiment", "Recorder", "Diverged", "RunResult", "UserError", "load", "register", "run"]

"""What an experiment declares. Experiments are pure: they know nothing of processes or files."""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.errors import UserError
from bench.records import RESERVED_NAMES, Metric


def cartesian(grid):
    """Every combination of the grid's values, in the grid's order."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


@dataclass
class Experiment:
    """One registered experiment.

    run(params, rng) -> Recorder (or DataFrame of step, epoch, metric, value) for one cell;
    plot(records) -> {name: matplotlib Figure}, from the stored table alone.
    grid: parameter -> list of values (a one-element list is a fixed setting the user may override).
    points(grid, seed) -> list of parameter dicts: how the grid becomes cells; the default is the
    cartesian product, a sampled search supplies its own (deterministic in `seed`).
    quick: grid overrides (and "seeds") for a smoke-sized run.
    dataset_grids: dataset -> grid overrides, for settings that differ by dataset (keyed by kind too:
    "images", "vectors", "points", for a data set from outside).
    source: what the experiment reproduces, as a citation (docs/sources.md has the details).
    accepts: the kinds of outside data (`--dataset npz:PATH`, `idx:DIR`, a plugin's data set) the
    experiment can take: "images" (784 features, 28x28), "vectors" (any number), "points" (2).
    headline(records) -> str: the run's result in one line (printed, kept in the manifest and report).
    summary_metrics: the metrics the summary covers (None: all). summary_by_step: summarize every
    step's value (e.g. one per batch size), not only each cell's last.
    metrics: metric -> bench.Metric: its better direction, its range (intervals are cut there) and
    the margin within which `compare` calls two runs equivalent; "min" or "max" alone declares an
    unbounded metric with that direction. A metric not declared has no direction and no range.
    params: parameter -> bench.params.Param: its type, range or choices and a one-line help. Every
    parameter of the grid, quick and dataset_grids needs one; defaults are checked when the experiment
    is defined, overrides before any cell runs. check(grid) may add rules across parameters (raise
    bench.UserError).
    extra_params(grid) -> {name: Param}: parameters that exist only for some values of the grid (an
    outside optimizer's keyword arguments); `--set` accepts them, points() places them.
    identity(params) -> dict: what else defines a cell besides its parameters (the SHA-256 of an
    outside optimizer's source), folded into the cell id.
    tuning: a bench.tuning.Tuning: the grid runs in two stages, each point's search space tuned on
    a validation split (stage "tune", `trials` cells), then its best trial rerun with the run's seeds
    on the test set (stage "final"); cells carry "stage" and "trial", and run() reads params["stage"].
    tables(records) -> {name: DataFrame}: tables beyond the summary, written as <run>/tables/NAME.csv.
    shows: the parameters `plot` draws (as colour, line style, facet or axis). A figure never
    averages over a parameter it does not show: when another one varies, the harness draws one set of
    figures per value of it (bench.report.save_figures).
    """

    name: str
    description: str
    run: Callable
    plot: Callable
    grid: dict
    datasets: tuple = ("mnist",)
    seeds: int = 3
    quick: dict = field(default_factory=dict)
    run_alone: bool = False
    version: int = 1
    metrics: dict = field(default_factory=dict)
    dataset_grids: dict = field(default_factory=dict)
    headline: Callable = None
    summary_metrics: tuple = None
    summary_by_step: bool = False
    params: dict = field(default_factory=dict)
    check: Callable = None
    points: Callable = None
    shows: tuple = ()
    accepts: tuple = ()
    source: str = ""
    extra_params: Callable = None
    identity: Callable = None
    tuning: object = None
    tables: Callable = None

    def __post_init__(self):
        self.metrics = {k: Metric(v) if isinstance(v, str) else v for k, v in self.metrics.items()}
        names = {*self.grid, *self.quick, *(k for g in self.dataset_grids.values() for k in g)} - {"seeds"}
        taken = sorted(names & RESERVED_NAMES)
        if taken:
            raise ValueError(f"experiment {self.name}: parameter {', '.join(map(repr, taken))} would collide with "
                             "a column of the harness's tables; rename it")
        undeclared = sorted(names - set(self.params))
        if undeclared:
            raise ValueError(f"experiment {self.name}: declare {', '.join(undeclared)} in params (bench.params)")
        grids = [self.grid, {k: v for k, v in self.quick.items() if k != "seeds"}, *self.dataset_grids.values()]
        for grid in grids:
            for name, values in grid.items():
                for value in values:
                    try:
                        self.params[name].check(name, value)
                    except UserError as e:
                        raise ValueError(f"experiment {self.name}: its own default is refused: {e}") from None

    @property
    def dataset(self):
        return self.datasets[0]

    def bounds(self):
        """metric -> (low, high): the declared range of each declared metric."""
        return {k: m.bounds for k, m in self.metrics.items()}

    def expand(self, grid, seed):
        return (self.points or (lambda g, s: cartesian(g)))(grid, seed)

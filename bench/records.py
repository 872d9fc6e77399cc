"""What an experiment's run returns: tidy records (step, epoch, metric, value), and divergence."""

import math
from dataclasses import dataclass

COLUMNS = ["step", "epoch", "metric", "value"]
# The tidy tables put these before a cell's parameters, and the summary these after them
# (bench.tables): a grid parameter may take none of their names, nor "dataset", which the harness sets.
CELL_COLUMNS = ["experiment", "cell_id", "seed"]
SUMMARY_COLUMNS = ["mean", "std", "ci95_low", "ci95_high", "min", "max", "n", "n_diverged"]
DIVERGED_AT = "diverged_at"  # the metric recording the step at which a cell diverged (bench.cell)
TUNING_COLUMNS = ["stage", "study", "trial"]  # a tuned experiment's cells (bench.tuning)
RESERVED_NAMES = {*CELL_COLUMNS, "dataset", *TUNING_COLUMNS, *COLUMNS, *SUMMARY_COLUMNS}


@dataclass(frozen=True)
class Metric:
    """What an experiment declares about one metric: its better direction ("max", "min" or None), the
    range its values live in (intervals are cut there) and the equivalence margin `compare` uses (a
    difference within ±margin does not matter; None: 1% of run a's mean)."""

    goal: str = None
    low: float = -math.inf
    high: float = math.inf
    margin: float = None

    def __post_init__(self):
        if self.goal not in ("max", "min", None):
            raise ValueError(f"a metric's goal is 'max', 'min' or None, got {self.goal!r}")
        if not self.low < self.high:
            raise ValueError(f"a metric's range needs low < high, got [{self.low}, {self.high}]")

    @property
    def bounds(self):
        return self.low, self.high


ACCURACY = Metric("max", 0.0, 1.0, margin=0.01)  # a fraction correct: one point of accuracy matters
LOSS = Metric("min", 0.0)
SECONDS = Metric("min", 0.0)  # a time


def diverged_cells(records):
    """The ids of the cells of a tidy table that diverged (each holds a DIVERGED_AT record)."""
    return set(records.loc[records["metric"] == DIVERGED_AT, "cell_id"])


class Diverged(Exception):
    """Raised by Recorder.log on a NaN or infinite value; carries the records made so far."""

    def __init__(self, step, metric, records):
        super().__init__(f"{metric} became non-finite at step {step}")
        self.step, self.metric, self.records = step, metric, records


class Recorder:
    """Collects one cell's records. `log` raises Diverged when a value is NaN or infinite, so a
    blown-up run stops at once and the harness records where."""

    def __init__(self):
        self.rows = []
        self.artifacts = {}
        self.used = {}

    def use(self, name, value):
        """The value a parameter actually took where the grid left it to a default (lr=None: the
        optimizer's own): the tables show this value in the parameter's column, not the null."""
        self.used[name] = value

    def save(self, name, obj):
        """Keep an object (a trained model) with the cell: the harness writes it with joblib to
        <run>/artifacts/<cell_id>/<name>.joblib."""
        self.artifacts[name] = obj

    def log(self, metric, value, step, epoch=None):
        value = float(value)
        self.rows.append((int(step), math.nan if epoch is None else float(epoch), metric, value))
        if not math.isfinite(value):
            raise Diverged(step, metric, self)

"""Two-stage grids: tune, then confirm. The tune stage runs `trials` quasi-random settings of each
grid point's search space, one seed each, scored on a validation split; the final stage reruns each
point's best trial with the run's seeds and reports the test set. The harness owns this protocol;
an experiment declares the search space (Tuning) and reads params["stage"] to pick its evaluation data.

Trials come from a scrambled Halton sequence seeded by the root seed and the point, so they are the
same on every run and backend, a longer list starts with the shorter one (more trials run only the
new cells), and adding a grid point (an optimizer) leaves the other points' trials alone.
"""

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.errors import UserError
from bench.records import TUNING_COLUMNS

STAGE, TRIAL = TUNING_COLUMNS  # the columns the harness adds to a tuned experiment's cells
TUNE, FINAL = "tune", "final"
TRIALS = "trials"  # the grid parameter holding the number of trials: not a cell parameter


@dataclass(frozen=True)
class Range:
    """A continuous search range; `log`: uniform in log space (learning rates)."""

    low: float
    high: float
    log: bool = False

    def at(self, u):
        """The value at quantile u in [0, 1), to 4 significant digits (readable, and stable in JSON)."""
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return float(f"{value:.4g}")


@dataclass(frozen=True)
class Tuning:
    """What an experiment declares to be tuned.

    space(point) -> {parameter: Range}: the search space of one grid point (one optimizer on one
    problem); a parameter the grid itself sets (`--set momentum=0.9`) is held at that value instead.
    metric, goal: the validation metric whose last value ranks the trials, and "max" or "min".
    params: every parameter a space can tune (figures show them rather than split by them).
    """

    space: Callable
    metric: str
    goal: str = "max"
    params: tuple = ()

    @property
    def shown(self):
        return (STAGE, TRIAL, *self.params)


def split_trials(grid):
    """(the grid without `trials`, the number of trials)."""
    values = grid.get(TRIALS, [1])
    if len(values) != 1:
        raise UserError(f"{TRIALS} takes one value (the number of trials per setting), got {len(values)}")
    return {k: v for k, v in grid.items() if k != TRIALS}, values[0]


def sample(tuning, point, n_trials, root_seed):
    """The first `n_trials` settings of the point's search space, in trial order."""
    from scipy.stats import qmc  # imported by the driver only, when a tuned grid is expanded

    space = {k: r for k, r in tuning.space(point).items() if k not in point}
    names = sorted(space)
    if not names:
        return [{}]  # nothing left to tune: a single trial
    key = json.dumps([root_seed, point], sort_keys=True, default=str).encode()
    seed = int(hashlib.sha256(key).hexdigest()[:16], 16)
    u = qmc.Halton(d=len(names), scramble=True, seed=seed).random(n_trials)
    return [{name: space[name].at(u[i, j]) for j, name in enumerate(names)} for i in range(n_trials)]


def tune_groups(tuning, points, n_trials, root_seed):
    """For each grid point, its trials as the tune stage's parameter dicts."""
    return [[{**point, **values, STAGE: TUNE, TRIAL: k}
             for k, values in enumerate(sample(tuning, point, n_trials, root_seed))] for point in points]


def best_trial(tuning, scores):
    """The trial to confirm from {trial: last validation value, or None for a failed or diverged
    trial}: the best finite value, the lowest trial number among equals; None when none finished."""
    finite = [(value, trial) for trial, value in scores.items() if value is not None and math.isfinite(value)]
    if not finite:
        return None
    sign = 1 if tuning.goal == "max" else -1
    return max(finite, key=lambda vt: (sign * vt[0], -vt[1]))[1]


def final_params(tuning, trials, scores):
    """One grid point's final-stage parameters: its best trial's, with stage "final" (None when no
    trial finished). trials: the point's tune-stage parameters; scores: their last validation values."""
    best = best_trial(tuning, {p[TRIAL]: s for p, s in zip(trials, scores)})
    return None if best is None else {**trials[best], STAGE: FINAL}

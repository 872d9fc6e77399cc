"""Two-stage grids: tune, then confirm. The tune stage runs `studies` independent tuning studies of
each grid point's search space, each `trials` quasi-random settings per searched dimension, one seed
each, scored on a validation split; the final stage reruns each study's best trial with the run's
seeds and reports the test set. The harness owns this protocol; an experiment declares the search
space (Tuning) and reads params["stage"] to pick its evaluation data.

Trials come from a scrambled Halton sequence seeded by the root seed, the point and the study, so
they are the same on every run and backend, a longer list starts with the shorter one (more trials
run only the new cells), and adding a grid point (an optimizer) leaves the other points' trials
alone. Study s trains its trials with seed s and its final runs with seeds s*n ... s*n + n - 1: the
studies share nothing, so their spread is the protocol's own randomness (AlgoPerf repeats its tuning
for that reason).
"""

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.errors import UserError
from bench.records import TUNING_COLUMNS

STAGE, STUDY, TRIAL = TUNING_COLUMNS  # the columns the harness adds to a tuned experiment's cells
TUNE, FINAL = "tune", "final"
TRIALS = "trials"  # grid parameters holding the trials per searched dimension and the number of studies:
STUDIES = "studies"  # not cell parameters


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
        return (STAGE, STUDY, TRIAL, *self.params)


def _one(grid, name, what):
    values = grid.get(name, [1])
    if len(values) != 1:
        raise UserError(f"{name} takes one value ({what}), got {len(values)}")
    return values[0]


def split_trials(grid):
    """(the grid without `trials` and `studies`, trials per searched dimension, the number of studies)."""
    n_trials = _one(grid, TRIALS, "the number of trials per searched dimension")
    n_studies = _one(grid, STUDIES, "the number of independent tuning studies")
    return {k: v for k, v in grid.items() if k not in (TRIALS, STUDIES)}, n_trials, n_studies


def _space(tuning, point):
    return {k: r for k, r in tuning.space(point).items() if k not in point}


def sample(tuning, point, n_trials, root_seed, study=0):
    """The first `n_trials` settings of the point's search space in one study, in trial order."""
    from scipy.stats import qmc  # imported by the driver only, when a tuned grid is expanded

    space = _space(tuning, point)
    names = sorted(space)
    if not names:
        return [{}]  # nothing left to tune: a single trial
    key = json.dumps([root_seed, point] + ([study] if study else []), sort_keys=True, default=str).encode()
    seed = int(hashlib.sha256(key).hexdigest()[:16], 16)
    u = qmc.Halton(d=len(names), scramble=True, seed=seed).random(n_trials)
    return [{name: space[name].at(u[i, j]) for j, name in enumerate(names)} for i in range(n_trials)]


def tune_groups(tuning, points, n_trials, root_seed, n_studies=1):
    """For each grid point and study, its trials as the tune stage's parameter dicts: n_trials per
    searched dimension, so a 2-D space gets twice the trials of a 1-D one."""
    return [[{**point, **values, STAGE: TUNE, STUDY: study, TRIAL: k}
             for k, values in enumerate(sample(tuning, point, n_trials * max(1, len(_space(tuning, point))),
                                               root_seed, study))]
            for point in points for study in range(n_studies)]


def final_seeds(study, n_seeds):
    """The seeds of one study's final runs: its own, disjoint from every other study's."""
    return range(study * n_seeds, (study + 1) * n_seeds)


def near_edge(tuning, point, values, fraction=0.1):
    """The tuned parameters whose chosen value lies within `fraction` of its range's width (in log
    space for a log range) from either end: the best may lie outside the space searched."""
    out = []
    for name, r in _space(tuning, point).items():
        if name in values:
            lo, hi, v = (map(math.log, (r.low, r.high, values[name])) if r.log else (r.low, r.high, values[name]))
            if hi > lo and min(v - lo, hi - v) < fraction * (hi - lo):
                out.append(name)
    return out


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

"""Differences between two runs' summaries, with Welch confidence intervals."""

from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import UserError
from bench.intervals import t975
from bench.store import RunStore, resolve_run_dir, results_root

STAT_COLUMNS = ["mean", "std", "ci95_low", "ci95_high", "n", "n_diverged"]


def resolve(spec, results_dir=None):
    """A run given as a folder path, EXPERIMENT (its latest run) or EXPERIMENT/RUN."""
    path = Path(spec)
    if (path / "manifest.json").exists():
        return path
    name, _, run = spec.partition("/")
    return resolve_run_dir(results_root(results_dir), name, run or "latest")


def compare_summaries(a, b, directions=None):
    """One row per (setting, metric) both runs have: means, difference b - a, its 95% CI (Welch),
    whether the CI excludes 0, and whether that change goes the wrong way for the metric."""
    directions = directions or {}
    keys = [c for c in a.columns if c not in STAT_COLUMNS and c in b.columns]
    merged = a.merge(b, on=keys, suffixes=("_a", "_b"))
    if merged.empty:
        raise UserError("the two runs share no parameter setting and metric to compare")
    va, vb = merged["std_a"] ** 2 / merged["n_a"], merged["std_b"] ** 2 / merged["n_b"]
    se = np.sqrt(va + vb)
    with np.errstate(invalid="ignore", divide="ignore"):
        dof = (va + vb) ** 2 / (va**2 / (merged["n_a"] - 1) + vb**2 / (merged["n_b"] - 1))
        half = t975(dof) * se
    diff = merged["mean_b"] - merged["mean_a"]
    out = merged[keys].copy()
    out["mean_a"], out["mean_b"], out["diff"] = merged["mean_a"], merged["mean_b"], diff
    out["ci95_low"], out["ci95_high"] = diff - half, diff + half
    out["significant"] = (out["ci95_low"] > 0) | (out["ci95_high"] < 0)
    worse = np.where(merged["metric"].map(directions) == "max", diff < 0,
                     np.where(merged["metric"].map(directions) == "min", diff > 0, False))
    out["regression"] = out["significant"] & worse
    return out


def compare_runs(spec_a, spec_b, results_dir=None, directions=None):
    a, b = (RunStore(resolve(s, results_dir)).read_summary() for s in (spec_a, spec_b))
    return compare_summaries(a, b, directions)


def format_comparison(table):
    shown = table.copy()
    shown["mark"] = np.where(shown["regression"], "REGRESSION", np.where(shown["significant"], "*", ""))
    shown = shown.drop(columns=["significant", "regression"])
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 50):
        return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")

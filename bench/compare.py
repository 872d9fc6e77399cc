"""Differences between two runs' summaries: Welch tests per (setting, metric), Benjamini-Hochberg
across them, and a minimum effect size, so that seed noise alone rarely raises an alarm.

Settings are matched on the parameters the two runs share. A parameter whose values in A and in B
have none in common (lr=0.01 in A, lr=0.05 in B) is what the comparison is about: it is left out of
the match and reported. Settings without a partner are listed, not dropped silently.

pandas and scipy.stats are imported where they are used: `python -m bench` imports this module's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import UserError
from bench.intervals import t975
from bench.records import SUMMARY_COLUMNS
from bench.store import RunStore, resolve_run_dir, results_root

ALPHA = 0.05  # false discovery rate across one comparison's tests
MIN_EFFECT = 0.01  # a difference smaller than 1% of run A's mean is never flagged
METHOD = "Welch t-test per setting and metric, Benjamini-Hochberg across them"


@dataclass
class Comparison:
    table: object  # DataFrame: one row per matched (setting, metric)
    differs: dict = field(default_factory=dict)  # parameter -> (value in A, value in B)
    only_a: object = None  # DataFrame: settings of A without a partner in B
    only_b: object = None


def resolve(spec, results_dir=None):
    """A run given as a folder path, EXPERIMENT (its latest run) or EXPERIMENT/RUN."""
    path = Path(spec)
    if (path / "manifest.json").exists():
        return path
    name, _, run = spec.partition("/")
    return resolve_run_dir(results_root(results_dir), name, run or "latest")


def metric_range(metric):
    """The range a metric's values live in, from its name: accuracies in [0, 1], losses, costs,
    times and rates non-negative; anything else unbounded."""
    name = metric.lower()
    if "acc" in name:
        return 0.0, 1.0
    if any(w in name for w in ("loss", "cost", "_s", "ratio", "error", "diff")):  # _s: seconds, images_per_s
        return 0.0, np.inf
    return -np.inf, np.inf


def welch(mean_a, std_a, n_a, mean_b, std_b, n_b):
    """Welch's two-sample test from summary statistics: (difference b - a, its standard error,
    degrees of freedom, two-sided p-value). NaN where a side has under two values or no spread."""
    from scipy.special import stdtr

    va, vb = np.asarray(std_a, float) ** 2 / n_a, np.asarray(std_b, float) ** 2 / n_b
    diff = np.asarray(mean_b, float) - np.asarray(mean_a, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(va + vb)
        dof = (va + vb) ** 2 / (va**2 / (np.asarray(n_a) - 1) + vb**2 / (np.asarray(n_b) - 1))
        p = 2 * stdtr(dof, -np.abs(diff) / se)
    p = np.where(se > 0, p, np.nan)
    return diff, se, dof, p


def bh_adjust(p):
    """Benjamini-Hochberg adjusted p-values along the last axis; NaN entries are not tests."""
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    for idx in np.ndindex(p.shape[:-1]):
        row = p[idx]
        tested = np.isfinite(row)
        if tested.any():
            out[idx][tested] = false_discovery_control(row[tested], method="bh")
    return out


def flags(p_adjusted, diff, mean_a, alpha=ALPHA, min_effect=MIN_EFFECT):
    """Significant: adjusted p below alpha and a difference of at least min_effect x |mean of A|."""
    return (np.asarray(p_adjusted) < alpha) & (np.abs(diff) >= min_effect * np.abs(mean_a))


def _parameters(summary):
    return [c for c in summary.columns if c not in SUMMARY_COLUMNS]


def _values(summary, column):
    return list(dict.fromkeys(summary[column]))


def _shown(values):
    return values[0] if len(values) == 1 else ", ".join(map(str, values))


def compare_summaries(a, b, directions=None, alpha=ALPHA, min_effect=MIN_EFFECT):
    """Match the settings of summaries a and b, test each matched (setting, metric), and flag the
    significant differences and the regressions (a significant change the wrong way for the metric)."""
    directions = directions or {}
    shared = [c for c in _parameters(a) if c in b.columns]
    differs = {}
    for c in shared:  # values the two runs never share cannot be matched on: they are what is compared
        va, vb = _values(a, c), _values(b, c)
        if c not in ("metric", "step") and not set(map(str, va)) & set(map(str, vb)):
            differs[c] = (_shown(va), _shown(vb))
    keys = [c for c in shared if c not in differs]
    as_text = {c: lambda df, c=c: df[c].astype(str) for c in keys}  # match 0.1 and "0.1", NaN and None
    a_text, b_text = a.assign(**as_text), b.assign(**as_text)
    merged = a_text.merge(b_text, on=keys, how="left", suffixes=("_a", "_b"), indicator=True)  # a's order
    only_a = merged.loc[merged["_merge"] == "left_only", keys].reset_index(drop=True)
    in_b = b_text[keys].merge(a_text[keys].drop_duplicates(), how="left", indicator=True)
    only_b = in_b.loc[in_b["_merge"] == "left_only", keys].reset_index(drop=True)
    merged = merged[merged["_merge"] == "both"].reset_index(drop=True)
    if merged.empty:
        raise UserError(f"the two runs share no parameter setting and metric to compare (matched on {', '.join(keys)})")
    diff, se, dof, p = welch(merged["mean_a"], merged["std_a"], merged["n_a"],
                             merged["mean_b"], merged["std_b"], merged["n_b"])
    half = t975(dof) * se
    lo, hi = np.array([metric_range(m) for m in merged["metric"]]).T
    out = merged[keys].copy()
    for side, summary, other in (("a", a, b), ("b", b, a)):  # a parameter only one run has: shown, not matched
        for c in _parameters(summary):
            if c not in other.columns:
                out[f"{c} ({side})"] = merged[c]
    out["mean_a"], out["mean_b"], out["diff"] = merged["mean_a"], merged["mean_b"], diff
    # A difference of two values in [lo, hi] lies in [lo - hi, hi - lo]: the interval is cut there.
    out["ci95_welch_low"] = np.maximum(diff - half, lo - hi)
    out["ci95_welch_high"] = np.minimum(diff + half, hi - lo)
    out["n_a"], out["n_b"] = merged["n_a"], merged["n_b"]
    out["p"] = p
    out["p_bh"] = bh_adjust(p)
    out["significant"] = flags(out["p_bh"], diff, merged["mean_a"], alpha, min_effect)
    direction = merged["metric"].map(directions)
    worse = np.where(direction == "max", diff < 0, np.where(direction == "min", diff > 0, False))
    out["regression"] = out["significant"] & worse
    return Comparison(out, differs, only_a, only_b)


def _experiment(folder):
    return RunStore(folder).read_manifest()["config"]["experiment"]


def compare_runs(spec_a, spec_b, results_dir=None, directions=None, alpha=ALPHA, min_effect=MIN_EFFECT):
    folders = [resolve(s, results_dir) for s in (spec_a, spec_b)]
    names = [_experiment(f) for f in folders]
    if names[0] != names[1]:
        raise UserError(f"{folders[0]} is a run of {names[0]} and {folders[1]} of {names[1]}: compare runs of "
                        "one experiment")
    a, b = (RunStore(f).read_summary() for f in folders)
    return compare_summaries(a, b, directions, alpha, min_effect)


def format_comparison(comparison, alpha=ALPHA, min_effect=MIN_EFFECT):
    """The comparison as text: what differs between the runs, the table with a mark per row, and the
    settings without a partner."""
    lines = []
    for k, (va, vb) in comparison.differs.items():
        lines.append(f"compared: {k} = {va} (a) vs {vb} (b)")
    shown = comparison.table.copy()
    shown["mark"] = np.where(shown["regression"], "REGRESSION", np.where(shown["significant"], "*", ""))
    shown = shown.drop(columns=["significant", "regression"])
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))  # every row and column
    for side, rows in (("a", comparison.only_a), ("b", comparison.only_b)):
        if rows is not None and len(rows):
            settings = rows.drop(columns=["metric", "step"], errors="ignore").drop_duplicates()
            lines.append(f"only in {side} (no partner, not compared): {len(settings)} setting(s)")
            lines.append(settings.to_string(index=False))
    table = comparison.table
    lines.append(f"{int(table['significant'].sum())} significant differences, {int(table['regression'].sum())} "
                 f"regressions (b vs a; {METHOD}: FDR {alpha:g}, and |diff| >= {min_effect:g} x |mean a|)")
    return "\n".join(lines)

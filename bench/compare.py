"""Two runs' summaries side by side: each matched (setting, metric) gets a verdict from
bench.stats.pairs (regression, improvement, equivalent or inconclusive), with the smallest
difference its seeds could have detected, so "no flag" is never mistaken for "no difference".

Settings are matched on the parameters the two runs share. A parameter whose values in A and in B
have none in common (lr=0.01 in A, lr=0.05 in B) is what the comparison is about: it is left out of
the match and reported. Settings without a partner are listed, not dropped silently.

pandas and scipy are imported where they are used: `python -m bench` imports this module's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import UserError
from bench.records import SUMMARY_COLUMNS, Metric
from bench.stats.pairs import (
    ALPHA,
    REGRESSION,
    VERDICTS,
    bh_adjust,
    detectable,
    equivalence,
    verdicts,
    welch,
)
from bench.stats.seeds import t_quantile
from bench.store import RunStore, resolve_run_dir, results_root

MIN_EFFECT = 0.01  # a metric without a declared margin: differences within 1% of run A's mean do not matter
METHOD = ("Welch t-test per setting and metric and two one-sided tests within the margin, each family "
          "Benjamini-Hochberg adjusted")


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


def margins(metrics, mean_a, declared, min_effect=MIN_EFFECT, given=None):
    """Each row's equivalence margin: the user's (`given`: metric -> margin), else the metric's
    declared one, else min_effect x |mean of A|."""
    given = given or {}
    fallback = min_effect * np.abs(np.asarray(mean_a, float))
    own = [given.get(m, declared.get(m, Metric()).margin) for m in metrics]
    return np.array([f if m is None else m for m, f in zip(own, fallback)], dtype=float)


def _parameters(summary):
    return [c for c in summary.columns if c not in SUMMARY_COLUMNS]


def _values(summary, column):
    return list(dict.fromkeys(summary[column]))


def _shown(values):
    return values[0] if len(values) == 1 else ", ".join(map(str, values))


def compare_summaries(a, b, metrics=None, alpha=ALPHA, min_effect=MIN_EFFECT, margin=None):
    """Match the settings of summaries a and b and give each matched (setting, metric) its verdict.
    metrics: metric -> bench.Metric as the experiment declares them (direction, range, margin);
    margin: metric -> the user's equivalence margin, over the declared one."""
    metrics = metrics or {}
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
    with np.errstate(invalid="ignore"):
        half = np.where(se == 0, 0.0, t_quantile(0.975, dof) * se)
    declared = [metrics.get(m, Metric()) for m in merged["metric"]]
    lo, hi = np.array([d.bounds for d in declared]).T
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
    out["n_diverged_a"], out["n_diverged_b"] = merged["n_diverged_a"], merged["n_diverged_b"]
    out["p"] = p
    out["p_bh"] = bh_adjust(p)
    out["margin"] = margins(merged["metric"], merged["mean_a"], metrics, min_effect, margin)
    out["p_equivalent"] = bh_adjust(equivalence(diff, se, dof, out["margin"]))
    with np.errstate(invalid="ignore"):
        out["detectable"] = np.where(se == 0, 0.0, detectable(se, dof, alpha))
    out["verdict"] = verdicts(diff, out["p_bh"], out["p_equivalent"], out["margin"], [d.goal for d in declared],
                              alpha)
    return Comparison(out, differs, only_a, only_b)


def _experiment(folder):
    return RunStore(folder).read_manifest()["config"]["experiment"]


def compare_runs(spec_a, spec_b, results_dir=None, metrics=None, alpha=ALPHA, min_effect=MIN_EFFECT, margin=None):
    folders = [resolve(s, results_dir) for s in (spec_a, spec_b)]
    names = [_experiment(f) for f in folders]
    if names[0] != names[1]:
        raise UserError(f"{folders[0]} is a run of {names[0]} and {folders[1]} of {names[1]}: compare runs of "
                        "one experiment")
    summaries = [RunStore(f).read_summary() for f in folders]
    for folder, summary in zip(folders, summaries):
        if not set(SUMMARY_COLUMNS) <= set(summary.columns):
            raise UserError(f"{folder}'s summary was written by an older nnbench: rebuild it with "
                            f"`python -m bench report {names[0]} --run {folder.name}`")
    return compare_summaries(*summaries, metrics, alpha, min_effect, margin)


def counts(table):
    """verdict -> number of rows, in a fixed order."""
    found = table["verdict"].value_counts()
    return {v: int(found.get(v, 0)) for v in VERDICTS}


def format_comparison(comparison, alpha=ALPHA):
    """The comparison as text: what differs between the runs, the table with each row's verdict, the
    settings without a partner, and a count of each verdict."""
    lines = []
    for k, (va, vb) in comparison.differs.items():
        lines.append(f"compared: {k} = {va} (a) vs {vb} (b)")
    shown = comparison.table.copy()
    shown["verdict"] = np.where(shown["verdict"] == REGRESSION, REGRESSION.upper(), shown["verdict"])
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))  # every row and column
    for side, rows in (("a", comparison.only_a), ("b", comparison.only_b)):
        if rows is not None and len(rows):
            settings = rows.drop(columns=["metric", "step"], errors="ignore").drop_duplicates()
            lines.append(f"only in {side} (no partner, not compared): {len(settings)} setting(s)")
            lines.append(settings.to_string(index=False))
    lines.append(", ".join(f"{n} {v}" for v, n in counts(comparison.table).items()) +
                 f" (b vs a; {METHOD}, FDR {alpha:g}; inconclusive: neither a change beyond the margin nor "
                 "equivalence is shown, `detectable` is the difference these seeds find 80% of the time)")
    return "\n".join(lines)

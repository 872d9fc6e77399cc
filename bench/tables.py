"""The tidy long tables: one row per (cell, step, metric), and the per-setting summary over seeds."""

import json

import numpy as np
import pandas as pd

from bench.intervals import bootstrap_interval
from bench.records import CELL_COLUMNS, COLUMNS, SUMMARY_COLUMNS


def _cell_value(v):
    return json.dumps(v) if isinstance(v, (list, tuple, dict)) else v


def cell_records(cell, records, used=None):
    """A cell's tidy table: its records (rows of step, epoch, metric, value, or the DataFrame its
    experiment returned) behind its identity and parameters as leading columns; a parameter the cell
    reported using (Recorder.use) shows that value."""
    if isinstance(records, pd.DataFrame):
        columns = {c: records[c].to_numpy() for c in COLUMNS}
    else:
        rows = list(records)
        step, epoch, metric, value = zip(*rows) if rows else ((), (), (), ())
        columns = {"step": np.array(step, dtype=np.int64), "epoch": np.array(epoch, dtype=np.float64),
                   "metric": np.array(metric, dtype=object), "value": np.array(value, dtype=np.float64)}
    lead = {"experiment": cell.experiment, "cell_id": cell.cell_id, "seed": cell.seed}
    lead.update({k: _cell_value(v) for k, v in {**cell.params, **(used or {})}.items()})
    n = len(columns["step"])
    # One construction (a DataFrame.insert per column costs more than the cell's own rows).
    return pd.DataFrame({**{k: [v] * n for k, v in lead.items()}, **columns})


def param_columns(records):
    return [c for c in records.columns if c not in CELL_COLUMNS and c not in COLUMNS]


def combine(parts):
    """Concatenate cell tables; a parameter column holding mixed types becomes text."""
    df = pd.concat(parts, ignore_index=True)
    for col in param_columns(df):
        if df[col].dtype == object and len({type(v) for v in df[col]}) > 1:
            df[col] = df[col].astype(str)
    return df


def final_values(records):
    """Each cell's last value of each metric."""
    last = records.sort_values("step", kind="stable").groupby(["cell_id", "metric"], sort=False).tail(1)
    return last.reset_index(drop=True)


def summarize(records, metrics=None, by_step=False):
    """Final metric per parameter setting: mean, std, the percentile-bootstrap 95% CI of the mean
    (ci95_boot_low/high, inside the metric's range), min and max over seeds, n (finite values) and
    n_diverged (cells whose value is NaN or infinite). by_step keeps every step, not only the last."""
    params = param_columns(records)
    if metrics is not None:
        records = records[records["metric"].isin(list(metrics) + ["diverged_at"])]
    final = records if by_step else final_values(records)
    final = final.assign(finite=np.isfinite(final["value"]))
    keys = params + ["metric"] + (["step"] if by_step else [])
    rows, samples = [], []
    for key, group in final.groupby(keys, sort=False, dropna=False):
        values = group.loc[group["finite"], "value"].to_numpy()
        n = len(values)
        samples.append(values)
        rows.append(dict(zip(keys, key if isinstance(key, tuple) else (key,)),
                         mean=values.mean() if n else np.nan, std=values.std(ddof=1) if n > 1 else np.nan,
                         min=values.min() if n else np.nan, max=values.max() if n else np.nan,
                         n=n, n_diverged=int((~group["finite"]).sum())))
    summary = pd.DataFrame(rows, columns=keys + SUMMARY_COLUMNS)
    width = max((len(v) for v in samples), default=0)
    padded = np.full((len(samples), max(width, 1)), np.nan)
    for i, v in enumerate(samples):
        padded[i, :len(v)] = v
    summary["ci95_boot_low"], summary["ci95_boot_high"] = bootstrap_interval(padded) if len(samples) else ([], [])
    return summary[keys + SUMMARY_COLUMNS]

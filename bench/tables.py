"""The tidy long tables: one row per (cell, step, metric), and the per-setting summary over seeds."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from bench.records import CELL_COLUMNS, COLUMNS, DIVERGED_AT, SUMMARY_COLUMNS, diverged_cells
from bench.stats.seeds import describe, mean_interval


def _cell_value(v):
    return json.dumps(v) if isinstance(v, (list, tuple, dict)) else v


class CellRows:
    """One cell's records as the driver holds them until the run's tables are built: the cell's identity
    and parameters once (`lead`), its rows as four arrays. A tiny cell takes a few hundred bytes this
    way; as a DataFrame or an Arrow table it takes over 10 KB, which a grid of 10,000 cells feels."""

    __slots__ = ("lead", "step", "epoch", "metric", "value")

    def __init__(self, lead, step, epoch, metric, value):
        self.lead = lead
        self.step = np.asarray(step, dtype=np.int64)
        self.epoch = np.asarray(epoch, dtype=np.float64)
        self.metric = np.asarray(metric, dtype=object)
        self.value = np.asarray(value, dtype=np.float64)

    def __len__(self):
        return len(self.step)

    def to_arrow(self):
        """The cell's tidy table (leading columns repeated on every row), for its Parquet file."""
        n = len(self)
        return pa.table({**{k: pa.array([v] * n) for k, v in self.lead.items()},
                         "step": self.step, "epoch": self.epoch, "metric": pa.array(self.metric, pa.string()),
                         "value": self.value})

    @classmethod
    def from_arrow(cls, table):
        """A stored cell's table read back: its leading columns hold one value each."""
        lead = {k: (table[k][0].as_py() if table.num_rows else None) for k in table.column_names if k not in COLUMNS}
        return cls(lead, *(table[c].to_numpy() for c in COLUMNS))


def cell_rows(cell, records, used=None):
    """A cell's records (rows of step, epoch, metric, value, or the DataFrame its experiment returned)
    behind its identity and parameters; a parameter the cell reported using (Recorder.use) shows that
    value."""
    if hasattr(records, "columns"):
        columns = [records[c].to_numpy() for c in COLUMNS]
    else:
        rows = list(records)
        columns = zip(*rows) if rows else ((), (), (), ())
    lead = {"experiment": cell.experiment, "cell_id": cell.cell_id, "seed": cell.seed}
    lead.update({k: _cell_value(v) for k, v in {**cell.params, **(used or {})}.items()})
    return CellRows(lead, *columns)


def param_columns(records):
    return [c for c in records.columns if c not in CELL_COLUMNS and c not in COLUMNS]


def combine(parts):
    """One tidy DataFrame of the cells' CellRows, in their order. A cell without a parameter has a null
    there; a parameter whose cells hold values of different types (text in one, a number in another)
    becomes text."""
    counts = [len(p) for p in parts]
    names = list(dict.fromkeys(k for p in parts for k in p.lead))
    columns = {}
    for name in names:
        values = pd.Series(np.repeat(np.array([p.lead.get(name) for p in parts], dtype=object), counts).tolist())
        if name not in CELL_COLUMNS and len({type(v) for v in values if v is not None}) > 1:
            values = values.astype(str)
        columns[name] = values
    for name in COLUMNS:
        columns[name] = np.concatenate([getattr(p, name) for p in parts])
    return pd.DataFrame(columns)


def final_values(records):
    """Each cell's last value of each metric: at its largest step, the one recorded last there."""
    last = records.sort_values("step", kind="stable").drop_duplicates(["cell_id", "metric"], keep="last")
    return last.reset_index(drop=True)


def summarize(records, metrics=None, by_step=False, bounds=None):
    """Final metric per parameter setting over its seeds: mean, std, the Student-t 95% interval of the
    mean cut at the metric's range (ci95_low/high; `bounds`: metric -> (low, high)), min, max, n (seeds
    that finished) and n_diverged. A diverged seed counts in n_diverged for every metric, and none of
    its values is averaged, not even one logged before it diverged: it did not finish. by_step keeps
    every step, not only the last."""
    params = param_columns(records)
    diverged = diverged_cells(records)
    records = records[records["metric"] != DIVERGED_AT]
    if metrics is not None:
        records = records[records["metric"].isin(list(metrics))]
    final = records if by_step else final_values(records)
    final = final.assign(finished=~final["cell_id"].isin(diverged))
    keys = params + ["metric"] + (["step"] if by_step else [])
    rows, samples = [], []
    for key, group in final.groupby(keys, sort=False, dropna=False):
        values = group.loc[group["finished"], "value"].to_numpy()
        samples.append(np.where(np.isfinite(values), values, np.nan))
        rows.append(dict(zip(keys, key), n_diverged=int((~group["finished"] | ~np.isfinite(group["value"])).sum())))
    summary = pd.DataFrame(rows, columns=keys + ["n_diverged"])
    padded = np.full((len(samples), max(map(len, samples), default=0)), np.nan)
    for i, v in enumerate(samples):
        padded[i, :len(v)] = v
    summary["mean"], summary["std"], summary["min"], summary["max"], summary["n"] = describe(padded)
    summary["ci95_low"], summary["ci95_high"] = np.nan, np.nan
    for metric in summary["metric"].unique():
        rows_of = (summary["metric"] == metric).to_numpy()
        low, high = mean_interval(padded[rows_of], bounds=(bounds or {}).get(metric))
        summary.loc[rows_of, "ci95_low"], summary.loc[rows_of, "ci95_high"] = low, high
    return summary[keys + SUMMARY_COLUMNS]

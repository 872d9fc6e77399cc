"""One figure style for every experiment, one palette per figure, and the curves drawn with their
spread over seeds (every seed below five, a band of the 95% interval of the mean from five on).

Figures are built on matplotlib.figure.Figure directly (no pyplot), so drawing never depends on
a display or touches a notebook's backend. matplotlib is imported when a figure is drawn: worker
processes, which import the experiment modules but never draw, start without it.
"""

import contextlib

import numpy as np

from bench.records import diverged_cells
from bench.stats.seeds import METHOD, mean_interval

BAND_MIN_SEEDS = 5  # below this, figures draw every seed (thin lines) instead of a band

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "svg.fonttype": "none",  # text stays text in the SVG: searchable, and editable in a report
}


@contextlib.contextmanager
def style():
    import matplotlib

    colors = matplotlib.cycler(color=matplotlib.colormaps["tab10"].colors)
    with matplotlib.rc_context({**STYLE, "axes.prop_cycle": colors}):
        yield


def figure(nrows=1, ncols=1, width=6.4, height=4.0, **kwargs):
    """A Figure and its axes array (always 2-D), in the house style."""
    from matplotlib.figure import Figure

    with style():
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def kaiser_smooth(y, window=11, beta=2.0):
    """The book's loss smoothing: a Kaiser window (beta 2) over the curve extended at both ends as the
    book extends it, mirrored about the first point and mirrored with the last point repeated."""
    y = np.asarray(y, dtype=float)
    if len(y) < window:
        return y
    half = window // 2
    padded = np.concatenate([y[half:0:-1], y, y[:-half - 1:-1]])
    w = np.kaiser(window, beta)
    return np.convolve(padded, w / w.sum(), mode="valid")


def levels(records, column):
    """A column's values in the order they first appear (the grid's order): one order per figure."""
    return list(dict.fromkeys(records[column]))


def palette(values):
    """One colour per level, keyed by the level: the same level has the same colour in every panel."""
    return {v: f"C{i % 10}" for i, v in enumerate(values)}


def mean_ci(records, metric, by, x="step", smooth=None, bounds=None):
    """Per (by..., x): the mean over cells (seeds), the 95% interval of the mean (low, high, cut at
    `bounds`, the metric's range; only where there are BAND_MIN_SEEDS values or more, else NaN), n,
    and each seed's own value in a column "seed:<s>" for figures that draw the seeds (a seed's line
    follows it along x, also when x is a grid parameter and every point is another cell; a diverged
    seed has its line but is left out of mean and interval). `smooth` is applied to each
    cell's curve first. Groups keep the order they first appear in; x ascends within each."""
    by = list(by)
    df = records[records["metric"] == metric]
    if smooth is not None:
        df = df.sort_values(["cell_id", x], kind="stable").copy()
        df["value"] = df.groupby("cell_id", sort=False)["value"].transform(lambda v: smooth(v.to_numpy()))
    def by_seed(part):
        return part.groupby(by + [x, "seed"], sort=False, dropna=False)["value"].mean().unstack("seed")

    wide = by_seed(df)
    diverged = df["cell_id"].isin(diverged_cells(records))
    # A diverged seed is drawn (its own line) but not averaged: it never finished (docs/statistics.md).
    values = by_seed(df[~diverged]).reindex(index=wide.index, columns=wide.columns).to_numpy(dtype=float)
    wide.columns = [f"seed:{c}" for c in wide.columns]
    out = wide.reset_index()
    if by:  # unstack sorts the rows: put the groups back in their order of appearance
        first = {k: i for i, k in enumerate(dict.fromkeys(zip(*(df[c] for c in by))))}
        rank = [first.get(k, len(first)) for k in zip(*(out[c] for c in by))]
        order = np.lexsort((out[x].to_numpy(), rank))
        out, values = out.iloc[order].reset_index(drop=True), values[order]
    n = np.isfinite(values).sum(axis=1)
    mean = np.full(len(out), np.nan)
    mean[n > 0] = np.nanmean(values[n > 0], axis=1)  # a step where every seed diverged has no mean
    out.insert(len(by) + 1, "n", n)
    out.insert(len(by) + 1, "mean", mean)
    low = np.full(len(out), np.nan)
    high = low.copy()
    banded = out["n"].to_numpy() >= BAND_MIN_SEEDS
    if banded.any():
        low[banded], high[banded] = mean_interval(values[banded], bounds=bounds)
    out.insert(len(by) + 3, "low", low)
    out.insert(len(by) + 4, "high", high)
    return out


def spread(ax, stats, x, label=None, color=None, linestyle="-", marker=None, alpha=0.2):
    """One group's curve from mean_ci: the mean, and around it the interval's band, or below
    BAND_MIN_SEEDS seeds every seed as a thin line (a band from so few would pretend to know more)."""
    (line,) = ax.plot(stats[x], stats["mean"], label=label, color=color, linestyle=linestyle, marker=marker,
                      markersize=3)
    if len(stats) and stats["n"].max() >= BAND_MIN_SEEDS:
        ax.fill_between(stats[x], stats["low"], stats["high"], color=line.get_color(), alpha=alpha, linewidth=0)
    else:
        for col in (c for c in stats.columns if c.startswith("seed:")):
            if stats[col].notna().any():
                ax.plot(stats[x], stats[col], color=line.get_color(), linestyle=linestyle, linewidth=0.6,
                        alpha=0.45)
    return line


def spread_label(n_seeds):
    """How the figure shows the spread over n seeds: for titles, legends and the caption."""
    if n_seeds == 1:
        return "one seed"
    return f"mean and each of {n_seeds} seeds" if n_seeds < BAND_MIN_SEEDS else f"mean, {METHOD}"

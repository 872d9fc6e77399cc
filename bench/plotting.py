"""One figure style for every experiment, and the mean ± 95% CI bands they are drawn with.

Figures are built on matplotlib.figure.Figure directly (no pyplot), so drawing never depends on
a display or touches a notebook's backend. matplotlib is imported when a figure is drawn: worker
processes, which import the experiment modules but never draw, start without it.
"""

import contextlib

import numpy as np

from bench.intervals import ci95

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
    """The book's loss smoothing: a Kaiser window (beta 2) over the curve reflected at both ends."""
    y = np.asarray(y, dtype=float)
    if len(y) < window:
        return y
    half = window // 2
    padded = np.concatenate([y[half:0:-1], y, y[-2:-half - 2:-1]])
    w = np.kaiser(window, beta)
    return np.convolve(padded, w / w.sum(), mode="valid")


def mean_ci(records, metric, by, x="step", smooth=None):
    """Per (by..., x): mean over seeds and the 95% CI half-width; `smooth` is applied to each
    seed's curve first. Returns a DataFrame with columns by + [x, mean, half, n]."""
    df = records[records["metric"] == metric]
    if smooth is not None:
        df = df.sort_values(x).copy()
        df["value"] = df.groupby("cell_id", sort=False)["value"].transform(lambda v: smooth(v.to_numpy()))
    # Groups keep the order they appear in (the grid's order); x ascends within each.
    grouped = df.groupby(list(by) + [x], sort=False, dropna=False)["value"]
    out = grouped.agg(["mean", "std", "count"]).reset_index().sort_values(x, kind="stable")
    out["half"] = ci95(out["std"].fillna(0), out["count"])
    out["half"] = out["half"].fillna(0)
    return out.rename(columns={"count": "n"})


def band(ax, x, mean, half, label=None, color=None, linestyle="-", alpha=0.2):
    """A mean line with a shaded ± half-width band."""
    (line,) = ax.plot(x, mean, label=label, color=color, linestyle=linestyle)
    ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=alpha, linewidth=0)
    return line

"""The engine measured as an experiment: training-step and inference time against the floor (the
step's matrix products alone) over batch size, width, dtype, BLAS threads and BatchNorm. Compare two
runs with `python -m bench compare` to catch a slower step."""

import os

import numpy as np
from threadpoolctl import threadpool_limits

import bench
import bench.params as P
from bench.params import Bool, Int
from bench.plotting import figure, levels, mean_ci, palette, spread
from bench.records import SECONDS, Metric
from nncore import MLP, SGD
from nncore.floor import calls_for, median_time, step_vs_floor


def run(params, rng):
    threads = os.cpu_count() if params["blas_threads"] == "all" else int(params["blas_threads"])
    dt = np.dtype(params["dtype"])
    sizes = [784] + [params["width"]] * params["layers"] + [10]
    net = MLP(sizes, rng, batchnorm=params["batchnorm"], dtype=dt)
    x = rng.random((params["batch"], 784)).astype(dt)
    t = rng.integers(0, 10, params["batch"])
    rec = bench.Recorder()
    with threadpool_limits(limits=threads, user_api="blas"):
        r = step_vs_floor(net, SGD(), x, t, repeat=params["repeats"], number=None)

        def infer():
            net.forward(x, False)

        infer_s, infer_iqr = median_time(infer, params["repeats"], calls_for(infer, 0.02))
    for metric, value in (("step_s", r["step"]), ("step_iqr_s", r["step_iqr"]), ("floor_s", r["floor"]),
                          ("ratio", r["ratio"]), ("infer_s", infer_s), ("infer_iqr_s", infer_iqr),
                          ("train_samples_per_s", params["batch"] / r["step"]),
                          ("infer_samples_per_s", params["batch"] / infer_s)):
        rec.log(metric, value, 0)
    return rec


def _panels(records, metric, ylabel, log_y=False, floor_line=False):
    combos = records[["dtype", "blas_threads", "batchnorm"]].drop_duplicates().astype(str).values.tolist()
    cols = min(4, len(combos))
    rows = int(np.ceil(len(combos) / cols))
    fig, axes = figure(rows, cols, width=3.6 * cols, height=3.0 * rows, sharex=True)
    colors = palette(levels(records, "width"))
    for ax, (dtype, threads, bn) in zip(axes.flat, combos):
        part = records[(records["dtype"].astype(str) == dtype) & (records["blas_threads"].astype(str) == threads)
                       & (records["batchnorm"].astype(str) == bn)]
        stats = mean_ci(part, metric, ["width"], x="batch", bounds=EXPERIMENT.bounds().get(metric))
        for width, group in stats.groupby("width", sort=False):
            spread(ax, group, "batch", label=f"width {width}", color=colors[width], marker="o")
        if floor_line:
            ax.axhline(1.0, color="k", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        ax.set_title(f"{dtype}, BLAS threads {threads}{', BN' if bn == 'True' else ''}", fontsize=9)
        ax.set_xlabel("batch size")
    for ax in axes.flat[len(combos):]:
        ax.set_visible(False)
    for r in range(rows):
        axes[r, 0].set_ylabel(ylabel)
    axes.flat[0].legend(fontsize=7)
    return fig


def plot(records):
    ratio = _panels(records, "ratio", "step time / floor", log_y=True, floor_line=True)
    ratio.suptitle("training step against its matrix products (1.0 = the floor)")
    throughput = _panels(records, "train_samples_per_s", "training samples / s", log_y=True)
    throughput.suptitle("training throughput")
    return {"engine_speed_ratio": ratio, "engine_speed_throughput": throughput}


def headline(records):
    sel = records[(records["metric"] == "ratio") & (records["batch"] == 128) & (records["width"] == 100)
                  & (records["blas_threads"].astype(str) == "1")]
    parts = [f"{d}{' BN' if bn else ''} {g['value'].median():.2f}x"
             for (d, bn), g in sel.groupby(["dtype", "batchnorm"])]
    return "step/floor at batch 128, width 100, 1 BLAS thread: " + ", ".join(parts) if parts else ""


EXPERIMENT = bench.Experiment(
    name="engine_speed",
    description="nncore step and inference time vs the matrix-product floor: batch x width x dtype x threads x BN",
    run=run,
    plot=plot,
    shows=("batch", "width", "dtype", "blas_threads", "batchnorm"),
    grid={"batch": [1, 10, 100, 128, 1000], "width": [50, 100, 400, 1000], "dtype": ["float64", "float32"],
          "blas_threads": [1, "all"], "batchnorm": [False, True], "layers": [4], "repeats": [10]},
    params={"batch": P.BATCH, "width": P.WIDTH, "dtype": P.DTYPE,
            "blas_threads": Int("BLAS threads for the timed step (or all cores)", 1, 1024, choices=("all",)),
            "batchnorm": Bool("BatchNorm after every hidden Affine"), "layers": Int("hidden layers", 1, 100),
            "repeats": Int("timing repeats (the median is kept)", 1, 10_000)},
    source="nnbench's own",
    datasets=("synthetic",),
    seeds=2,
    quick={"batch": [10, 128], "width": [50, 100], "blas_threads": [1], "repeats": [3], "seeds": 2},
    run_alone=True,
    metrics={"step_s": SECONDS, "floor_s": SECONDS, "ratio": Metric("min", 0.0), "infer_s": SECONDS,
             "train_samples_per_s": Metric("max", 0.0), "infer_samples_per_s": Metric("max", 0.0)},
    headline=headline,
)

"""Random search over learning rate and weight decay (the book, ch. 6): 100 trials of 50 epochs on
500 images, 20% held out for validation. The trials are sampled from the root seed, so the list is
the same on every run and every backend, and widening `trials` keeps the first ones."""

import numpy as np

import bench
import bench.params as P
from bench.params import Float, Int, Param
from bench.plotting import figure
from bench.records import ACCURACY, LOSS
from experiments.common import dataset, train
from nncore import MLP, make_optimizer


def sample_trials(grid, seed):
    """The grid as a list of points: trial i gets lr = 10**U(lr_exp) and weight decay =
    10**U(wd_exp), drawn in order from one Generator seeded by the root seed (never repeated)."""
    (n_trials,) = grid["trials"]
    (lr_lo, lr_hi), (wd_lo, wd_hi) = grid["lr_exp"][0], grid["wd_exp"][0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EA4C8]))
    fixed = {k: v[0] for k, v in grid.items() if k not in ("trials", "lr_exp", "wd_exp")}
    points, seen = [], set()
    while len(points) < n_trials:
        lr, wd = 10 ** rng.uniform(lr_lo, lr_hi), 10 ** rng.uniform(wd_lo, wd_hi)
        if (lr, wd) in seen:
            continue
        seen.add((lr, wd))
        points.append({"trial": len(points), "lr": float(lr), "weight_decay": float(wd), **fixed})
    return points


def run(params, rng):
    data = dataset(params["dataset"], params["dtype"], n_train=params["n_train"], validation=params["validation"],
                   split_seed=params["split_seed"])
    sizes = [data.x_train.shape[1], *params["hidden"], data.n_classes]
    net = MLP(sizes, rng, activation="relu", init="he", weight_decay=params["weight_decay"], dtype=params["dtype"])
    per_epoch = max(len(data.x_train) // params["batch"], 1)
    rec = bench.Recorder()

    def evaluate(step):
        epoch = step // per_epoch
        rec.log("train_acc", net.accuracy(data.x_train, data.t_train), step, epoch)
        rec.log("val_acc", net.accuracy(data.x_val, data.t_val), step, epoch)

    train(net, make_optimizer("sgd", lr=params["lr"]), data, rec, params["epochs"] * per_epoch, params["batch"],
          rng, per_epoch, evaluate)
    return rec


def ranked_trials(records):
    """One row per trial: lr, weight decay and final validation accuracy (mean over seeds), best first."""
    from bench.tables import final_values  # pandas: imported when drawing, not in workers

    last = final_values(records[records["metric"] == "val_acc"])
    table = last.groupby(["trial", "lr", "weight_decay"], as_index=False)["value"].mean()
    return table.rename(columns={"value": "val_acc"}).sort_values("val_acc", ascending=False, kind="stable")


def best_region(ranked, top=10):
    """Where the best trials lie, as a range of exponents."""
    best = ranked.head(top)
    lr, wd = np.log10(best["lr"]), np.log10(best["weight_decay"])
    return (f"top {len(best)}: lr 10^{lr.min():.1f}..10^{lr.max():.1f}, "
            f"weight decay 10^{wd.min():.1f}..10^{wd.max():.1f}")


def plot(records):
    ranked = ranked_trials(records)
    best = ranked.head(20)
    rows = int(np.ceil(len(best) / 5))
    curves, axes = figure(rows, 5, width=13, height=2.2 * rows, sharex=True, sharey=True)
    for ax, (rank, row) in zip(axes.flat, enumerate(best.itertuples(), start=1)):
        trial = records[records["trial"] == row.trial]
        for metric, style in (("val_acc", "-"), ("train_acc", "--")):
            curve = trial[trial["metric"] == metric].groupby("epoch")["value"].mean()
            ax.plot(curve.index, curve.values, style, color="C0" if metric == "val_acc" else "C1")
        ax.set_title(f"Best-{rank} lr={row.lr:.2e}\nwd={row.weight_decay:.2e}", fontsize=8)
        ax.set_ylim(0, 1)
    for ax in axes.flat[len(best):]:
        ax.set_visible(False)
    curves.suptitle("best validation curves (solid) with training accuracy (dashed)")

    scatter, ax = figure(1, 1, width=6.4, height=4.6)
    ax = ax[0, 0]
    points = ax.scatter(ranked["lr"], ranked["weight_decay"], c=ranked["val_acc"], cmap="viridis", s=28,
                        vmin=0, vmax=max(ranked["val_acc"].max(), 0.1))
    top = ranked.head(10)
    ax.scatter(top["lr"], top["weight_decay"], facecolors="none", edgecolors="red", s=70, label="top 10")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("weight decay")
    ax.legend(loc="lower left")
    ax.set_title(best_region(ranked), fontsize=9)
    scatter.colorbar(points, ax=ax, label="final validation accuracy")
    return {"hyperparameter_search_curves": curves, "hyperparameter_search_scatter": scatter}


def check(grid):
    for name in ("lr_exp", "wd_exp"):
        for low, high in grid[name]:
            if not low < high:
                raise bench.UserError(f"bad value for {name}: [{low:g}, {high:g}]; write [LOW, HIGH] with LOW < HIGH")
    for fraction in grid["validation"]:
        if fraction >= 1 and not float(fraction).is_integer():
            raise bench.UserError(f"bad value for validation: {fraction:g}; a fraction below 1 or a whole count")
        if fraction >= min(grid["n_train"]):
            raise bench.UserError(f"bad value for validation: {fraction:g} of {min(grid['n_train'])} training samples "
                                  "leaves none to train on")


EXPERIMENT = bench.Experiment(
    name="hyperparameter_search",
    description="random search: 100 trials of lr 10^U(-6,-2), weight decay 10^U(-8,-4); 50 epochs on 500 images",
    run=run,
    plot=plot,
    shows=("trial", "lr", "weight_decay"),
    grid={"trials": [100], "lr_exp": [[-6, -2]], "wd_exp": [[-8, -4]], "hidden": [[100] * 6], "n_train": [500],
          "validation": [0.2], "split_seed": [0], "batch": [100], "epochs": [50], "dtype": ["float64"]},
    points=sample_trials,
    headline=lambda records: "best region " + best_region(ranked_trials(records)),
    check=check,
    params={"trials": Int("sampled (lr, weight decay) trials", 1, 100_000),
            "lr_exp": Param("floats", "lr = 10**U(low, high)", -20, 5, min_len=2, max_len=2),
            "wd_exp": Param("floats", "weight decay = 10**U(low, high)", -20, 5, min_len=2, max_len=2),
            "hidden": P.WIDTHS, "n_train": P.N_TRAIN,
            "validation": Float("validation hold-out: a fraction (< 1) or a count of the training samples", 0,
                                low_open=True),
            "split_seed": Int("seed of the validation split", 0, 2**32 - 1), "batch": P.BATCH, "epochs": P.EPOCHS,
            "dtype": P.DTYPE},
    accepts=("images", "vectors", "points"),
    source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 6",
    datasets=("mnist", "fashion_mnist", "digits"),
    seeds=1,
    quick={"trials": [12], "epochs": [15]},
    metrics={"val_acc": ACCURACY, "train_acc": ACCURACY, "loss": LOSS},
)

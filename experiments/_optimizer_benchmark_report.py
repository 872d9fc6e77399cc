"""optimizer_benchmark's tables and figures, computed from its stored records alone: per-problem
results, statistics across problems (bench.aggregate) and the tuning and learning curves."""

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from bench.aggregate import (
    expected_best,
    first_reach,
    iqm,
    performance_profile,
    probability_of_improvement,
    stratified_bootstrap,
)
from bench.intervals import bootstrap_interval
from bench.plotting import figure, levels, palette
from bench.tuning import FINAL, STAGE, TRIAL, TUNE
from experiments.common import plot_metric
from experiments.optimizer_benchmark import PROBLEMS, TUNED, n_classes, target
from experiments.optimizer_grid import LABELS


def _label(optimizer):
    return LABELS.get(optimizer, optimizer)


def _series(cell, metric):
    values = cell.loc[cell["metric"] == metric].sort_values("step", kind="stable")
    return (values["step"].to_numpy(), values["value"].to_numpy())


def _cells(records, stage):
    """(cell id, the cell's rows, its first row, a function giving a metric's last value: NaN when the
    cell diverged or never logged it) for each cell of one stage."""
    for cell_id, cell in records[records[STAGE] == stage].groupby("cell_id", sort=False):
        diverged = (cell["metric"] == "diverged_at").any()

        def last(metric, cell=cell, diverged=diverged):
            _, values = _series(cell, metric)
            return np.nan if diverged or not len(values) else values[-1]

        yield cell_id, cell, cell.iloc[0], last


def final_runs(records):
    """One row per final-stage cell: its last validation and test accuracy (NaN when it diverged),
    and the steps and training seconds it took to reach its problem's validation target (inf: never)."""
    rows = []
    for cell_id, cell, first, last in _cells(records, FINAL):
        steps, val = _series(cell, "val_acc")
        seconds = dict(zip(*_series(cell, "train_seconds")))
        reach = first_reach(steps, val, target(first["problem"], first["dataset"]))
        rows.append({"cell_id": cell_id, "problem": first["problem"], "optimizer": first["optimizer"],
                     "seed": first["seed"], TRIAL: first[TRIAL], "val_acc": last("val_acc"),
                     "test_acc": last("test_acc"), "steps_to_target": reach,
                     "seconds_to_target": seconds.get(reach, math.inf)})
    return pd.DataFrame(rows, columns=["cell_id", "problem", "optimizer", "seed", TRIAL, "val_acc", "test_acc",
                                       "steps_to_target", "seconds_to_target"])


def tune_scores(records):
    """One row per tune-stage cell: problem, optimizer, trial, its tuned values and last validation
    accuracy (NaN when it diverged)."""
    rows = []
    for _, cell, first, last in _cells(records, TUNE):
        rows.append({"problem": first["problem"], "optimizer": first["optimizer"], TRIAL: first[TRIAL],
                     **{k: first[k] for k in TUNED if k in cell.columns and pd.notna(first[k])},
                     "val_acc": last("val_acc")})
    return pd.DataFrame(rows)


def normalised(runs):
    """Each final run's test accuracy as a fraction of the way from chance (0) to a perfect score (1):
    fixed ends, so adding an optimizer changes no other's score; a diverged run scores 0, as chance would."""
    chance = runs["problem"].map(lambda p: 1 / n_classes(p))
    return runs.assign(score=((runs["test_acc"] - chance) / (1 - chance)).fillna(0.0))


def _by_problem(runs, optimizer, column):
    mine = runs[runs["optimizer"] == optimizer]
    return [g[column].to_numpy() for _, g in mine.groupby("problem", sort=False)]


def aggregate(runs):
    """Per optimizer across problems: IQM of the normalised scores with its stratified-bootstrap 95%
    interval, the mean score, and how often it reached a target fastest (the profile at tau = 1)."""
    runs = normalised(runs)
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    costs = _costs(runs, optimizers)
    fastest = performance_profile(costs.to_numpy(), [1.0])[0] if len(costs) else np.zeros(len(optimizers))
    rows = []
    for i, opt in enumerate(optimizers):
        groups = _by_problem(runs, opt, "score")
        low, high = stratified_bootstrap(groups)
        rows.append({"optimizer": opt, "iqm_score": iqm(np.concatenate(groups)), "iqm_ci95_low": low,
                     "iqm_ci95_high": high, "mean_score": float(np.concatenate(groups).mean()),
                     "problems": len(groups), "runs": int(sum(map(len, groups))), "fastest_share": fastest[i]})
    return pd.DataFrame(rows)


def improvement(runs):
    """P(X > Y) for each ordered pair of optimizers, on normalised scores, averaged over problems."""
    runs = normalised(runs)
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    return pd.DataFrame([{"optimizer": x, "versus": y, "p_improvement": probability_of_improvement(
        _by_problem(runs, x, "score"), _by_problem(runs, y, "score"))}
        for x in optimizers for y in optimizers if x != y])


def _costs(runs, optimizers):
    """Problems x optimizers: the median over seeds of the steps to reach the validation target."""
    table = runs.groupby(["problem", "optimizer"], sort=False)["steps_to_target"].median().unstack("optimizer")
    return table.reindex(columns=optimizers).fillna(math.inf)


def per_problem(records):
    """One row per problem and optimizer: the chosen trial and its settings, its tuning score, the final
    test accuracy (mean, percentile-bootstrap 95% CI over seeds, min, max) and time to the target."""
    runs, tune = final_runs(records), tune_scores(records)
    rows = []
    for (problem, opt), group in runs.groupby(["problem", "optimizer"], sort=False):
        trial = int(group[TRIAL].iloc[0])
        chosen = tune[(tune["problem"] == problem) & (tune["optimizer"] == opt) & (tune[TRIAL] == trial)].iloc[0]
        test = group["test_acc"].to_numpy()
        low, high = bootstrap_interval(test[None, :])
        reached = np.isfinite(group["steps_to_target"])
        rows.append({"problem": problem, "optimizer": opt, TRIAL: trial,
                     **{k: chosen[k] for k in TUNED if k in chosen and pd.notna(chosen[k])},
                     "tune_val_acc": chosen["val_acc"], "test_acc": np.nanmean(test) if reached.size else np.nan,
                     "ci95_boot_low": low[0], "ci95_boot_high": high[0], "min": np.nanmin(test), "max": np.nanmax(test),
                     "seeds": len(group), "target": target(problem, records["dataset"].iloc[0]),
                     "reached": f"{int(reached.sum())}/{len(group)}",
                     "median_steps_to_target": group["steps_to_target"].median(),
                     "median_seconds_to_target": group["seconds_to_target"].median()})
    table = pd.DataFrame(rows)
    first = ["problem", "optimizer", TRIAL, *[k for k in TUNED if k in table.columns]]
    return table[first + [c for c in table.columns if c not in first]]


def tables(records):
    runs = final_runs(records)
    return {"per_problem": per_problem(records), "aggregate": aggregate(runs), "improvement": improvement(runs)}


def headline(records):
    runs = final_runs(records)
    if runs.empty:
        return "the final stage has not run"
    agg = aggregate(runs).sort_values("iqm_score", ascending=False)
    return "IQM normalised test score: " + ", ".join(
        f"{_label(r.optimizer)} {r.iqm_score:.3f} [{r.iqm_ci95_low:.3f}, {r.iqm_ci95_high:.3f}]"
        for r in agg.itertuples())


def figures(records):
    """The summary (performance profiles, IQM with intervals, probability of improvement), the tuning
    curves and the final stage's learning curves, one panel per problem."""
    optimizers = levels(records, "optimizer")
    colors = palette(optimizers)
    problems = [p for p in PROBLEMS if p in set(records["problem"])]
    out = {}
    runs = final_runs(records)
    if not runs.empty:
        out["optimizer_benchmark"] = _summary(runs, optimizers, colors)
        out["optimizer_benchmark_curves"] = _curves(records, problems, colors)
    out["optimizer_benchmark_tuning"] = _tuning(tune_scores(records), problems, optimizers, colors)
    return out


def _summary(runs, optimizers, colors):
    fig, axes = figure(1, 3, width=15, height=4.4)
    optimizers = [o for o in optimizers if o in set(runs["optimizer"])]
    costs = _costs(runs, optimizers)
    with np.errstate(invalid="ignore"):  # inf / inf: a problem no optimizer reached
        ratios = costs.to_numpy() / costs.min(axis=1).to_numpy()[:, None]
    finite = ratios[np.isfinite(ratios)]
    worst = finite.max() if finite.size else 1.0
    taus = np.logspace(0, math.log10(max(2.0, worst * 1.2)), 200)
    rho = performance_profile(costs.to_numpy(), taus)
    ax = axes[0, 0]
    for i, opt in enumerate(optimizers):
        ax.step(taus, rho[:, i], where="post", color=colors[opt], label=_label(opt))
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ: steps to target / fewest steps of any optimizer")
    ax.set_ylabel("fraction of problems")
    ax.set_title("performance profiles (steps to validation target)")
    ax.legend(fontsize=8)

    agg = aggregate(runs).set_index("optimizer").reindex(optimizers)
    ax = axes[0, 1]
    y = np.arange(len(optimizers))[::-1]
    errors = [agg["iqm_score"] - agg["iqm_ci95_low"], agg["iqm_ci95_high"] - agg["iqm_score"]]
    ax.errorbar(agg["iqm_score"], y, xerr=errors, fmt="none", ecolor="0.4", capsize=3)
    ax.scatter(agg["iqm_score"], y, c=[colors[o] for o in optimizers], zorder=3)
    ax.set_yticks(y, [_label(o) for o in optimizers])
    ax.set_xlabel("IQM of normalised test accuracy (0: chance, 1: perfect)")
    ax.set_title(f"IQM, stratified-bootstrap 95% CI ({int(agg['runs'].iloc[0])} runs each)")

    pairs = improvement(runs)
    matrix = np.full((len(optimizers), len(optimizers)), np.nan)
    for r in pairs.itertuples():
        matrix[optimizers.index(r.optimizer), optimizers.index(r.versus)] = r.p_improvement
    ax = axes[0, 2]
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="RdBu")
    for i in range(len(optimizers)):
        for j in range(len(optimizers)):
            if i != j:
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7)
    names = [_label(o) for o in optimizers]
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title("P(row beats column) on the same problem")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle("optimizer_benchmark: tuned optimizers across problems")
    return fig


def _panels(n):
    fig, axes = figure(1, n, width=3.6 * n + 1, height=3.8)
    return fig, axes[0]


def _tuning(tune, problems, optimizers, colors):
    """Expected best validation accuracy of k trials, drawn at random from those run (diverged: chance)."""
    fig, axes = _panels(len(problems))
    for ax, problem in zip(axes, problems):
        mine = tune[tune["problem"] == problem]
        for opt in optimizers:
            values = mine.loc[mine["optimizer"] == opt, "val_acc"].fillna(1 / n_classes(problem)).to_numpy()
            if len(values):
                ks = np.arange(1, len(values) + 1)
                ax.plot(ks, [expected_best(values, k) for k in ks], color=colors[opt], label=_label(opt))
        ax.set_title(PROBLEMS[problem].title, fontsize=9)
        ax.set_xlabel("trials")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("expected best validation accuracy")
    axes[0].legend(fontsize=7)
    fig.suptitle("tuning curves: how much search each optimizer needs")
    return fig


def _curves(records, problems, colors):
    """Validation accuracy (with the target that the profiles time) over test accuracy, per problem."""
    fig, axes = figure(2, len(problems), width=3.6 * len(problems) + 1, height=6.6, sharex="col")
    final = records[records[STAGE] == FINAL]
    labels = {str(k): _label(k) for k in colors}
    for column, problem in enumerate(problems):
        mine = final[final["problem"] == problem]
        for row, metric in enumerate(("val_acc", "test_acc")):
            ax = axes[row, column]
            if len(mine):
                plot_metric(ax, mine, metric, "optimizer", labels, colors=colors)
            if metric == "val_acc":
                ax.axhline(target(problem, records["dataset"].iloc[0]), color="0.4", linestyle=":", linewidth=1)
                ax.set_title(PROBLEMS[problem].title, fontsize=9)
            else:
                ax.set_xlabel("steps")
    axes[0, 0].set_ylabel("validation accuracy (dotted: target)")
    axes[1, 0].set_ylabel("test accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("learning curves of each optimizer's chosen setting (final stage)")
    return fig

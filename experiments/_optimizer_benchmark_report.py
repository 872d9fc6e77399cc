"""optimizer_benchmark's tables and figures, computed from its stored records alone: per-problem and
per-study results, normalised scores, statistics across problems and studies (bench.stats) and the
tuning and learning curves. A diverged final run is left out of its problem's mean (and counted), and
scored at chance in everything across problems: one rule, in every table (docs/statistics.md)."""

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from bench.plotting import figure, levels, palette
from bench.records import ACCURACY, DIVERGED_AT
from bench.stats.problems import (
    expected_best,
    first_reach,
    improvement_interval,
    normalise,
    performance_profile,
    pooled_iqm,
    probability_of_improvement,
    problem_iqm,
    problem_mean,
    stratified_interval,
    trimmed_problems,
)
from bench.stats.seeds import describe, mean_interval
from bench.tuning import FINAL, STAGE, STUDY, TRIAL, TUNE, near_edge
from experiments.common import plot_metric
from experiments.optimizer_benchmark import EXPERIMENT, PROBLEMS, TUNED, n_classes, reference, target
from experiments.optimizer_grid import LABELS

RUN_COLUMNS = ["cell_id", "problem", "optimizer", STUDY, "seed", TRIAL, "budget", "val_acc", "test_acc",
               "steps_to_target", "seconds_to_target"]


def _label(optimizer):
    return LABELS.get(optimizer, optimizer)


def _series(cell, metric):
    values = cell.loc[cell["metric"] == metric].sort_values("step", kind="stable")
    return (values["step"].to_numpy(), values["value"].to_numpy())


def _cells(records, stage):
    """(cell id, the cell's rows, its first row, a function giving a metric's last value: NaN when the
    cell diverged or never logged it) for each cell of one stage."""
    for cell_id, cell in records[records[STAGE] == stage].groupby("cell_id", sort=False):
        diverged = (cell["metric"] == DIVERGED_AT).any()

        def last(metric, cell=cell, diverged=diverged):
            _, values = _series(cell, metric)
            return np.nan if diverged or not len(values) else values[-1]

        yield cell_id, cell, cell.iloc[0], last


def final_runs(records):
    """One row per final-stage cell: its study, seed, last validation and test accuracy (NaN when it
    diverged), and the steps and training seconds it took to reach its problem's validation target
    (inf: never)."""
    rows = []
    for cell_id, cell, first, last in _cells(records, FINAL):
        steps, val = _series(cell, "val_acc")
        seconds = dict(zip(*_series(cell, "train_seconds")))
        reach = first_reach(steps, val, target(first["problem"], first["dataset"], first["budget"]))
        rows.append({"cell_id": cell_id, "problem": first["problem"], "optimizer": first["optimizer"],
                     STUDY: first[STUDY], "seed": first["seed"], TRIAL: first[TRIAL], "budget": first["budget"],
                     "val_acc": last("val_acc"), "test_acc": last("test_acc"), "steps_to_target": reach,
                     "seconds_to_target": seconds.get(reach, math.inf)})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def tune_scores(records):
    """One row per tune-stage cell: problem, optimizer, study, trial, its tuned values and last
    validation accuracy (NaN when it diverged)."""
    rows = []
    for _, cell, first, last in _cells(records, TUNE):
        rows.append({"problem": first["problem"], "optimizer": first["optimizer"], STUDY: first[STUDY],
                     TRIAL: first[TRIAL], **{k: first[k] for k in TUNED if k in cell.columns and pd.notna(first[k])},
                     "val_acc": last("val_acc")})
    return pd.DataFrame(rows)


def normalised(runs, dataset_name):
    """The final runs with their anchors and normalised score: chance -> 0, the problem's pinned
    reference accuracy -> 1 (fixed, so adding an optimizer changes no other's score). A diverged run
    scores 0, as chance would."""
    chance = runs["problem"].map(lambda p: 1 / n_classes(p))
    anchor = runs["problem"].map(lambda p: reference(p, dataset_name))
    score = normalise(runs["test_acc"], chance, anchor)
    return runs.assign(diverged=runs["test_acc"].isna(), chance=chance, reference=anchor,
                       score=np.where(runs["test_acc"].isna(), 0.0, score))


def scores(records):
    """tables/scores.csv: one row per study, problem, optimizer and final seed, with the raw test
    accuracy and the normalised score, from which every statistic across problems can be recomputed."""
    runs = normalised(final_runs(records), records["dataset"].iloc[0])
    return runs[[STUDY, "problem", "optimizer", "seed", TRIAL, "test_acc", "diverged", "chance", "reference",
                 "score"]]


def _by_problem(runs, optimizer, column="score"):
    mine = runs[runs["optimizer"] == optimizer]
    return [g[column].to_numpy() for _, g in mine.groupby("problem", sort=False)]


def _studies(runs):
    return sorted(set(runs[STUDY]))


def _score_bounds(runs):
    """The range a normalised score can take on these problems: accuracy 0 to 1 on each."""
    anchors = runs.drop_duplicates("problem")
    low = normalise(ACCURACY.low, anchors["chance"], anchors["reference"])
    high = normalise(ACCURACY.high, anchors["chance"], anchors["reference"])
    return float(low.min()), float(high.max())


def _over_studies(replicates, bounds):
    """(estimate, low, high) from one value per independent study: their mean and its Student-t 95%
    interval, which covers the randomness of the whole protocol (tuning and seeds)."""
    row = np.asarray(replicates, dtype=float)[None, :]
    low, high = mean_interval(row, bounds=bounds)
    return float(describe(row)[0][0]), float(low[0]), float(high[0])


def covers(runs):
    """What the intervals across problems cover, for the tables and the figure."""
    n = len(_studies(runs))
    return f"tuning and seeds (t over {n} studies)" if n > 1 else "seeds only (one tuning study)"


def aggregate(runs, dataset_name):
    """Per optimizer across problems, on normalised scores: the IQM within each problem averaged over
    problems and the mean over problems, each with its 95% interval (over studies when there are
    several, else over seeds: `covers`); rliable's pooled IQM and the problems its trim removes
    entirely; each problem's mean score; diverged runs; the tuning optimism (the chosen trial's
    validation accuracy minus its final runs'); and how often it reached a target fastest, in steps
    and in seconds (the profiles at tau = 1)."""
    runs = normalised(runs, dataset_name)
    bounds = _score_bounds(runs)
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    studies = _studies(runs)
    fastest = {cost: performance_profile(_costs(runs, optimizers, cost).to_numpy(), [1.0])[0]
               for cost in ("steps_to_target", "seconds_to_target")}
    rows = []
    for i, opt in enumerate(optimizers):
        mine = runs[runs["optimizer"] == opt]
        groups = _by_problem(runs, opt)
        row = {"optimizer": opt}
        for name, statistic in (("iqm", problem_iqm), ("mean", problem_mean)):
            if len(studies) > 1:
                estimate, low, high = _over_studies(
                    [statistic(_by_problem(mine[mine[STUDY] == s], opt)) for s in studies], bounds)
            else:
                estimate, (low, high) = float(statistic(groups)), stratified_interval(groups, statistic, bounds=bounds)
            row.update({f"{name}_score": estimate, f"{name}_ci95_low": low, f"{name}_ci95_high": high})
        problems = list(dict.fromkeys(mine["problem"]))
        row.update({"covers": covers(runs), "pooled_iqm": float(pooled_iqm(groups)),
                    "pooled_iqm_drops": " ".join(problems[j] for j in trimmed_problems(groups)),
                    **{f"mean_{p}": float(np.mean(g)) for p, g in zip(problems, groups)},
                    "problems": len(groups), "studies": len(studies), "runs": len(mine),
                    "diverged": int(mine["diverged"].sum()),
                    "fastest_share_steps": fastest["steps_to_target"][i],
                    "fastest_share_seconds": fastest["seconds_to_target"][i]})
        rows.append(row)
    return pd.DataFrame(rows)


def improvement(runs, dataset_name):
    """P(X > Y) for each ordered pair of optimizers, on normalised scores, averaged over problems, with
    its 95% interval (over studies when there are several, else a stratified bootstrap over seeds)."""
    runs = normalised(runs, dataset_name)
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    studies = _studies(runs)
    rows = []
    for x in optimizers:
        for y in optimizers:
            if x == y:
                continue
            if len(studies) > 1:
                per_study = [runs[runs[STUDY] == s] for s in studies]
                estimate, low, high = _over_studies([probability_of_improvement(_by_problem(r, x), _by_problem(r, y))
                                                     for r in per_study], (0.0, 1.0))
            else:
                xs, ys = _by_problem(runs, x), _by_problem(runs, y)
                estimate, (low, high) = float(probability_of_improvement(xs, ys)), improvement_interval(xs, ys)
            rows.append({"optimizer": x, "versus": y, "p_improvement": estimate, "ci95_low": low, "ci95_high": high})
    return pd.DataFrame(rows)


def _costs(runs, optimizers, cost="steps_to_target"):
    """Problems x optimizers: the median over all final runs of the steps (or seconds) to reach the
    validation target."""
    table = runs.groupby(["problem", "optimizer"], sort=False)[cost].median().unstack("optimizer")
    return table.reindex(columns=optimizers).fillna(math.inf)


def _tuned_here(trials):
    """The parameters a study's trials actually searched (a value fixed with --set is the same in all)."""
    return [k for k in TUNED if k in trials and trials[k].nunique() > 1]


def per_problem(records):
    """One row per problem, optimizer and study: the chosen trial and its settings (and those within 10%
    of their range's edge), its tuning score, the final runs' validation accuracy and the optimism
    between the two, the final test accuracy over the seeds that finished (mean, Student-t 95%
    interval, min, max, n) with the diverged seeds counted, and time to the target."""
    runs, tune = final_runs(records), tune_scores(records)
    dataset_name = records["dataset"].iloc[0]
    rows = []
    for (problem, opt, study), group in runs.groupby(["problem", "optimizer", STUDY], sort=False):
        trial = int(group[TRIAL].iloc[0])
        trials = tune[(tune["problem"] == problem) & (tune["optimizer"] == opt) & (tune[STUDY] == study)]
        chosen = trials[trials[TRIAL] == trial].iloc[0]
        settings = {k: chosen[k] for k in TUNED if k in chosen and pd.notna(chosen[k])}
        edge = near_edge(EXPERIMENT.tuning, {"optimizer": opt, "problem": problem},
                         {k: v for k, v in settings.items() if k in _tuned_here(trials)})
        test = group["test_acc"].to_numpy()[None, :]
        mean, _, low_seed, high_seed, n = describe(test)
        low, high = mean_interval(test, bounds=ACCURACY.bounds)
        final_val = describe(group["val_acc"].to_numpy()[None, :])[0][0]
        reached = np.isfinite(group["steps_to_target"])
        rows.append({"problem": problem, "optimizer": opt, STUDY: study, TRIAL: trial, **settings,
                     "near_edge": " ".join(edge), "tune_val_acc": chosen["val_acc"], "final_val_acc": final_val,
                     "optimism": chosen["val_acc"] - final_val, "test_acc": mean[0], "ci95_low": low[0],
                     "ci95_high": high[0], "min": low_seed[0], "max": high_seed[0], "n": int(n[0]),
                     "n_diverged": len(group) - int(n[0]),
                     "target": target(problem, dataset_name, group["budget"].iloc[0]),
                     "reached": f"{int(reached.sum())}/{len(group)}",
                     "median_steps_to_target": group["steps_to_target"].median(),
                     "median_seconds_to_target": group["seconds_to_target"].median()})
    table = pd.DataFrame(rows)
    first = ["problem", "optimizer", STUDY, TRIAL, *[k for k in TUNED if k in table.columns]]
    return table[first + [c for c in table.columns if c not in first]]


def tables(records):
    runs, name = final_runs(records), records["dataset"].iloc[0]
    table = per_problem(records)
    agg = aggregate(runs, name)
    agg["optimism"] = agg["optimizer"].map(table.groupby("optimizer")["optimism"].mean())
    return {"per_problem": table, "scores": scores(records), "aggregate": agg, "improvement": improvement(runs, name)}


def headline(records):
    runs = final_runs(records)
    if runs.empty:
        return "the final stage has not run"
    agg = aggregate(runs, records["dataset"].iloc[0]).sort_values("iqm_score", ascending=False)
    return (f"normalised test score, IQM per problem averaged over problems (95% interval covers {covers(runs)}): "
            + ", ".join(f"{_label(r.optimizer)} {r.iqm_score:.3f} [{r.iqm_ci95_low:.3f}, {r.iqm_ci95_high:.3f}]"
                        for r in agg.itertuples()))


def figures(records):
    """The summary (performance profiles, IQM with intervals, probability of improvement), the tuning
    curves and the final stage's learning curves, one panel per problem."""
    optimizers = levels(records, "optimizer")
    colors = palette(optimizers)
    problems = [p for p in PROBLEMS if p in set(records["problem"])]
    out = {}
    runs = final_runs(records)
    if not runs.empty:
        out["optimizer_benchmark"] = _summary(runs, records["dataset"].iloc[0], optimizers, colors)
        out["optimizer_benchmark_curves"] = _curves(records, problems, colors)
    out["optimizer_benchmark_tuning"] = _tuning(tune_scores(records), problems, optimizers, colors)
    return out


def _summary(runs, dataset_name, optimizers, colors):
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

    agg = aggregate(runs, dataset_name).set_index("optimizer").reindex(optimizers)
    ax = axes[0, 1]
    y = np.arange(len(optimizers))[::-1]
    errors = [agg["iqm_score"] - agg["iqm_ci95_low"], agg["iqm_ci95_high"] - agg["iqm_score"]]
    ax.errorbar(agg["iqm_score"], y, xerr=errors, fmt="none", ecolor="0.4", capsize=3)
    ax.scatter(agg["iqm_score"], y, c=[colors[o] for o in optimizers], zorder=3)
    ax.set_yticks(y, [_label(o) for o in optimizers])
    ax.set_xlabel("normalised test accuracy (0: chance, 1: the problem's reference)")
    ax.set_title(f"IQM per problem, averaged ({int(agg['runs'].iloc[0])} runs each)\n95% interval over "
                 f"{covers(runs)}")

    pairs = improvement(runs, dataset_name)
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
    """Expected best validation accuracy of k trials drawn at random from those a study ran (diverged:
    chance), averaged over studies."""
    fig, axes = _panels(len(problems))
    for ax, problem in zip(axes, problems):
        mine = tune[tune["problem"] == problem]
        for opt in optimizers:
            studies = [g["val_acc"].fillna(1 / n_classes(problem)).to_numpy()
                       for _, g in mine[mine["optimizer"] == opt].groupby(STUDY)]
            if studies:
                ks = np.arange(1, min(map(len, studies)) + 1)
                curve = [np.mean([expected_best(v, k) for v in studies]) for k in ks]
                ax.plot(ks, curve, color=colors[opt], label=_label(opt))
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
                ax.axhline(target(problem, records["dataset"].iloc[0], final["budget"].iloc[0]), color="0.4",
                           linestyle=":", linewidth=1)
                ax.set_title(PROBLEMS[problem].title, fontsize=9)
            else:
                ax.set_xlabel("steps")
    axes[0, 0].set_ylabel("validation accuracy (dotted: target)")
    axes[1, 0].set_ylabel("test accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("learning curves of each optimizer's chosen setting (final stage)")
    return fig

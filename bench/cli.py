"""`python -m bench`: list, run, report, compare."""

import argparse
import os
import sys

from bench import api, registry
from bench.compare import ALPHA, MIN_EFFECT
from bench.errors import UserError
from bench.explorer import write_page
from bench.grid import expand, resolve_grid, tune_cells, values_text
from bench.provenance import nnbench_version
from bench.report import failed_cells, rebuild
from bench.store import RunStore, results_root

EXAMPLES = """examples:
  python -m bench list
  python -m bench run optimizer_compare --dataset fashion_mnist
  python -m bench run optimizer_compare --quick --set optimizer=sgd,adam --seeds 2 --jobs 2
  python -m bench report optimizer_compare      (figures again, from the stored tables)
  python -m bench report --html                 (results/report.html)
  python -m bench compare optimizer_compare/fashion_mnist path/to/other/run --fail-on-regression
"""


def build_parser():
    p = argparse.ArgumentParser(prog="python -m bench", description="nnbench: run, store, plot and compare "
                                "small-network experiments.", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p.add_argument("--version", action="version", version=f"nnbench {nnbench_version()}")
    sub.add_parser("list", help="experiments: name, description, default cell count")
    show = sub.add_parser("show", help="an experiment's parameters (type, default, quick value, allowed values) "
                          "and data sets")
    show.add_argument("name", help="experiment name (see `list`)")

    r = sub.add_parser("run", help="run or resume an experiment's grid")
    r.add_argument("name", help="experiment name (see `list`)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=V1[,V2...]",
                   help="override a grid parameter, e.g. --set lr=0.01,0.1 or --set hidden=[100,100]")
    r.add_argument("--seeds", type=int, help="number of seeds per setting")
    r.add_argument("--dataset", help="dataset (each experiment lists the ones it supports)")
    r.add_argument("--quick", action="store_true", help="the reduced smoke-test variant")
    r.add_argument("--jobs", "-j", type=int, help="worker processes (default: one per core; one per cell "
                   "when the grid has more cells than cores but fewer than twice as many)")
    r.add_argument("--run", help="run folder name (default: the dataset, plus -quick)")
    r.add_argument("--force", action="store_true", help="re-run every cell, discarding stored ones")
    r.add_argument("--fail-fast", action="store_true", help="stop at the first failed cell")
    r.add_argument("--root-seed", type=int, default=0, help="root of every cell's seed sequence (default 0)")
    r.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads per cell (default 1: identical bits for any --jobs)")
    r.add_argument("--results", help="results folder (default ./results or $NNBENCH_RESULTS)")
    r.add_argument("--backend", choices=["loky", "dask"], default="loky",
                   help="loky: processes on this machine (default); dask: a Dask cluster")
    r.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="with --backend dask: the scheduler to use (default: start a LocalCluster)")
    r.add_argument("--connect-timeout", type=float, metavar="SECONDS",
                   help="with --scheduler: how long the scheduler has to answer (default 10)")
    r.add_argument("--dask-logs", action="store_true", help="with --backend dask: show distributed's own log")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    runs = sub.add_parser("runs", help="every stored run, newest first: when, data set, quick, cells, and the "
                          "settings that differ from the defaults")
    runs.add_argument("--experiment", help="only this experiment's runs")
    runs.add_argument("--results", help="results folder")

    rep = sub.add_parser("report", help="rebuild figures from stored tables; --html for one page")
    rep.add_argument("name", nargs="?", help="experiment name")
    rep.add_argument("--run", default="latest", help="run folder name (default: latest); with --html, only the "
                     "runs of this name (default: every run)")
    rep.add_argument("--experiment", help="with --html: only this experiment's runs")
    rep.add_argument("--all", action="store_true", help="every experiment with a stored run")
    rep.add_argument("--html", action="store_true", help="write results/report.html: one self-contained interactive "
                     "page of every run (curves, comparisons, manifests) that opens offline")
    rep.add_argument("--results", help="results folder")

    c = sub.add_parser("compare", help="two runs of one experiment, setting by setting: each metric called a "
                       "regression, improvement, equivalent or inconclusive (Welch and two one-sided tests, "
                       "Benjamini-Hochberg adjusted)")
    c.add_argument("run_a", help="EXPERIMENT, EXPERIMENT/RUN or a run folder")
    c.add_argument("run_b")
    c.add_argument("--fail-on-regression", action="store_true", help="exit 1 if a metric got worse beyond its margin")
    c.add_argument("--fail-on-inconclusive", action="store_true",
                   help="exit 1 also if a metric is neither shown changed nor shown equivalent (more seeds decide)")
    c.add_argument("--margin", action="append", default=[], metavar="METRIC=VALUE",
                   help="equivalence margin of a metric, in its units (repeatable; default: the experiment's "
                   "declared margin, e.g. 0.01 for an accuracy, else --min-effect)")
    c.add_argument("--alpha", type=float, default=ALPHA,
                   help=f"false discovery rate across the comparison's tests (default {ALPHA})")
    c.add_argument("--min-effect", type=float, default=MIN_EFFECT,
                   help="margin of a metric without a declared one, as a fraction of run a's mean "
                   f"(default {MIN_EFFECT})")
    c.add_argument("--results", help="results folder")
    return p


def cmd_list(args):
    rows = []
    for name, exp in registry.all_experiments().items():
        grid, dataset, seeds = resolve_grid(exp)
        origin = registry.source(name)
        desc = exp.description + ("" if origin == "built-in" else f"  [{origin}]")
        rows.append((name, len(expand(exp, grid, dataset, seeds)), desc))
    width = max((len(r[0]) for r in rows), default=4)
    print(f"{'name':<{width}}  cells  description")
    for name, cells, desc in rows:
        print(f"{name:<{width}}  {cells:>5}  {desc}")
    return 0


def cmd_show(args):
    exp = registry.get(args.name)
    grid, dataset, seeds = resolve_grid(exp)
    quick_grid, _, quick_seeds = resolve_grid(exp, quick=True)
    print(f"{exp.name} (version {exp.version}): {exp.description}")
    if exp.source:
        print(f"reproduces: {exp.source}")
    own = f", or your own {'/'.join(exp.accepts)} data (npz:PATH, idx:DIR)" if exp.accepts else ""
    if exp.tuning:  # one final setting per tuned point, with the run's seeds
        groups = tune_cells(exp, grid, dataset)
        cells = f"{sum(map(len, groups))} to tune, then {len(groups) * seeds} final"
    else:
        cells = len(expand(exp, grid, dataset, seeds))
    print(f"data sets: {', '.join(exp.datasets)}{own} (default {dataset}); seeds: {seeds} (quick: {quick_seeds}); "
          f"cells: {cells}")
    rows = [("parameter", "default", "quick", "allowed", "meaning")]
    for name, param in exp.params.items():
        default = grid.get(name)
        quick = quick_grid.get(name)
        changed = values_text(quick) if quick != default else ""
        rows.append((name, values_text(default), changed, param.describe(), param.help))
    by_grid = {}
    for name, values in exp.dataset_grids.items():  # data sets with the same settings on one line
        by_grid.setdefault(", ".join(f"{k}={values_text(v)}" for k, v in values.items()), []).append(name)
    for settings, names in by_grid.items():
        rows.append(("", "", "", "", f"on {', '.join(names)}: {settings}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    print(f"set one with --set NAME=VALUE[,VALUE...], e.g. python -m bench run {exp.name} --set "
          f"{next(iter(exp.params))}={values_text(grid[next(iter(exp.params))]).split(',')[0]}")
    return 0


def cmd_run(args):
    if args.scheduler and args.backend != "dask":
        raise UserError("--scheduler goes with --backend dask")
    result = api.run(args.name, overrides=args.overrides, jobs=args.jobs, seeds=args.seeds, dataset=args.dataset,
                     quick=args.quick, run=args.run, force=args.force, results_dir=args.results,
                     fail_fast=args.fail_fast, root_seed=args.root_seed, blas_threads=args.blas_threads,
                     progress=False if args.no_progress else None, backend=args.backend, scheduler=args.scheduler,
                     connect_timeout=args.connect_timeout, dask_logs=args.dask_logs)
    counts = {}
    for s in result.statuses.values():
        counts[s] = counts.get(s, 0) + 1
    print(f"{args.name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" -> {result.path}")
    if result.manifest.get("headline"):
        print(result.manifest["headline"])
    for line in failed_cells(result.manifest):
        print(line)
    if not result.summary.empty:
        print(f"tables: {result.path / 'records.parquet'}, {result.path / 'summary.csv'}; "
              f"figures: {result.path / 'figures'}")
    return 1 if result.failed or result.pending else 0


def cmd_runs(args):
    from bench.runs import format_runs, list_runs

    if args.experiment:
        registry.get(args.experiment)
    print(format_runs(list_runs(args.results, args.experiment)))
    return 0


def cmd_report(args):
    if args.run != "latest":
        api.check_run_name(args.run)
    if args.html:
        names = [n for n in (args.name, args.experiment) if n]
        for name in names:
            registry.get(name)
        path, damaged = write_page(args.results, names or None, None if args.run == "latest" else args.run)
        for problem in damaged:
            print(f"skipped a damaged run: {problem}", file=sys.stderr)
        print(path)
        return 0
    if args.all:
        root = results_root(args.results)
        names = [n for n in registry.all_experiments() if (root / n / "latest").exists()]
        if not names:
            raise UserError(f"no runs under {root}")
    elif args.name:
        names = [args.name]
    else:
        raise UserError("name an experiment, or pass --all or --html")
    for name in names:
        folder, figures = rebuild(name, "latest" if args.all else args.run, args.results)
        print(f"{name}: {len(figures)} figures -> {folder / 'figures'}")
        for line in failed_cells(RunStore(folder).read_manifest()):
            print(line)
    return 0


def _margins(texts):
    """--margin METRIC=VALUE options as {metric: value}."""
    out = {}
    for text in texts:
        metric, _, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not metric.strip() or number is None or not number >= 0:
            raise UserError(f"--margin takes METRIC=VALUE with a value of 0 or more (--margin test_acc=0.02), "
                            f"got {text!r}")
        out[metric.strip()] = number
    return out


def cmd_compare(args):
    from bench.compare import compare_runs, format_comparison, resolve
    from bench.stats.pairs import INCONCLUSIVE, REGRESSION

    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.min_effect < 0:
        raise UserError(f"--min-effect must be 0 or more, got {args.min_effect}")
    margin = _margins(args.margin)
    folder_a = resolve(args.run_a, args.results)
    experiment = RunStore(folder_a).read_manifest()["config"]["experiment"]
    registered = registry.all_experiments().get(experiment)
    comparison = compare_runs(args.run_a, args.run_b, args.results, registered.metrics if registered else {},
                              args.alpha, args.min_effect, margin)
    print(format_comparison(comparison, args.alpha))
    verdict = comparison.table["verdict"]
    failing = (args.fail_on_regression or args.fail_on_inconclusive) and (verdict == REGRESSION).any()
    return 1 if failing or (args.fail_on_inconclusive and (verdict == INCONCLUSIVE).any()) else 0


def main(argv=None):
    from nncore.datasets import DatasetError

    args = build_parser().parse_args(argv)
    try:
        return {"list": cmd_list, "show": cmd_show, "run": cmd_run, "runs": cmd_runs, "report": cmd_report,
                "compare": cmd_compare}[args.command](args)
    except (UserError, DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished cells are saved; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # the environment, not the code: a read-only folder, a full disk, a file in the way
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}; check that the results folder is writable (or pass --results DIR)",
              file=sys.stderr)
        return 2

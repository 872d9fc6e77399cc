"""Figures and tables rebuilt from stored records (the interactive page is bench.explorer)."""

import re
from pathlib import Path

from bench import registry
from bench.atomic import write_figure, write_text
from bench.errors import UserError
from bench.grid import describe_params
from bench.plotting import spread_label, style
from bench.provenance import nnbench_version
from bench.store import RunStore, resolve_run_dir, results_root


def unshown_parameters(experiment, records):
    """The parameters that vary where the experiment's figures do not show them: within one
    combination of the shown parameters, they take more than one value."""
    from bench.tables import param_columns

    cells = records.drop_duplicates("cell_id")
    tuned = experiment.tuning.shown if experiment.tuning else ()  # trials differ by design
    shown = [p for p in (*experiment.shows, *tuned) if p in cells.columns]
    others = [p for p in param_columns(cells) if p not in shown]
    groups = [g for _, g in cells.groupby(shown, sort=False, dropna=False)] if shown else [cells]
    return [p for p in others if any(g[p].nunique(dropna=False) > 1 for g in groups)]


def _split(experiment, records):
    """(suffix, title, records) per combination of the unshown parameters that vary; one part when none does."""
    import pandas as pd

    keys = unshown_parameters(experiment, records)
    if not keys:
        return [("", "", records)]
    parts = []
    # A cell without a value for a key (an argument its optimizer does not take) belongs in every part.
    unset = records[keys].isna().all(axis=1)
    for values, part in records[~unset].groupby(keys, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        title = ", ".join(f"{k}={v}" for k, v in zip(keys, values) if v == v)  # v == v: not NaN
        part = pd.concat([part, records[unset]]).sort_index() if unset.any() else part  # the grid's order
        parts.append(("__" + re.sub(r"[^A-Za-z0-9._=-]+", "_", title.replace(", ", "__")), title, part))
    return parts or [("", "", records)]


def caption(experiment, records, context):
    """What every figure states: data set, seeds and how their spread is drawn, quick or not, run, version."""
    seeds = records["seed"].nunique()
    dataset = records["dataset"].iloc[0] if "dataset" in records else "?"
    quick = " · --quick (reduced)" if context.get("quick") else ""
    return (f"{experiment.name} · data: {dataset} · {seeds} seed{'s' * (seeds != 1)}: {spread_label(seeds)}{quick}"
            f" · run {context.get('run', '?')} · nnbench {nnbench_version()}")


def save_figures(experiment, records, folder, context=None):
    """Draw the experiment's figures from `records`, one set per combination of any parameter that
    varies without being shown, each captioned with what it shows; write each as PNG and SVG.
    Returns the names. `context`: the run's name and whether it is --quick."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    with style():
        for suffix, title, part in _split(experiment, records):
            for name, fig in experiment.plot(part).items():
                if title:
                    above = fig.get_suptitle()
                    fig.suptitle(f"{above} — {title}" if above else title)
                fig.supxlabel(caption(experiment, part, context or {}), fontsize=7, color="0.35")
                write_figure(folder / f"{name}{suffix}.png", fig)
                # The PNG's draw placed every axes (constrained layout); the SVG reuses that layout.
                fig.set_layout_engine(None)
                write_figure(folder / f"{name}{suffix}.svg", fig)
                names.append(name + suffix)
    for old in folder.iterdir():  # figures of an earlier drawing that this one no longer makes
        if old.suffix in (".png", ".svg") and old.stem not in names:
            old.unlink()
    return sorted(names)


def summary_table(experiment, records):
    """The run's summary over seeds, with the experiment's chosen metrics and their declared ranges."""
    from bench.tables import summarize

    return summarize(records, experiment.summary_metrics, experiment.summary_by_step, experiment.bounds())


def save_tables(experiment, records, folder):
    """Write the experiment's own tables (Experiment.tables) as CSV files in `folder`; their names."""
    if not experiment.tables:
        return []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = experiment.tables(records)
    for name, table in tables.items():
        write_text(folder / f"{name}.csv", table.to_csv(index=False))
    return sorted(tables)


def rebuild(name, run="latest", results_dir=None):
    """Rebuild one run's summary, tables and figures from its records.parquet, without training anything
    (a run stored by an older nnbench gets today's statistics)."""
    experiment = registry.get(name)
    folder = resolve_run_dir(results_root(results_dir), name, run)
    store = RunStore(folder)
    manifest = store.read_manifest()
    config = manifest["config"]
    made_by = config.get("version")
    if made_by != experiment.version:
        raise UserError(f"{folder} was made by version {made_by} of {name}, whose tables this version "
                        f"({experiment.version}) cannot draw: run it again with --force")
    records = store.read_records()
    store.write_summary(summary_table(experiment, records))
    store.write_index(manifest)  # the tables are again what the cells give
    save_tables(experiment, records, folder / "tables")
    return folder, save_figures(experiment, records, store.figures_dir, context_of(config, folder))


def failed_cells(manifest):
    """One line per failed cell of a run: its parameters, seed and error."""
    return [f"failed: {describe_params(s.get('params', {}), s.get('seed'))}: {s.get('message')}"
            for s in manifest.get("cells", {}).values() if s.get("status") == "failed"]


def context_of(config, folder):
    return {"run": config.get("run", Path(folder).name), "quick": bool(config.get("quick"))}

"""`python -m bench report --html`: one self-contained, interactive page of every stored run.

Curves (mean and interval over seeds, each seed on hover), a matched-cell comparison of any two runs
of an experiment, and each run's manifest at a glance. The charts are Vega-Lite, whose JavaScript
(Vega, Vega-Lite and Vega-Embed, bundled by vl-convert-python) is inlined: the file opens offline and
can be mailed. Everything the page shows is data: it travels as JSON in a non-executed script element
and the page's own code puts it on screen with textContent, never as markup.
"""

import json
import time
from pathlib import Path

import numpy as np

from bench.atomic import write_text
from bench.errors import UserError
from bench.provenance import nnbench_version
from bench.store import RunStore, results_root

POINTS_PER_RUN = 12_000  # curve points kept per run for display (steps thinned evenly, the last kept)
MIN_POINTS_PER_CURVE = 12
PAGE = Path(__file__).with_name("explorer.html")


def _thin(steps, keep):
    """Indices of `keep` evenly spaced steps, the first and last among them."""
    if len(steps) <= keep:
        return np.arange(len(steps))
    return np.unique(np.linspace(0, len(steps) - 1, keep).round().astype(int))


def _plain(value):
    """A value as JSON can carry it: numbers, text, or None for NaN."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def swept(records):
    """The parameters that take more than one value in a run: its settings are told apart by them."""
    from bench.tables import param_columns

    cells = records.drop_duplicates("cell_id")
    return [c for c in param_columns(cells) if cells[c].nunique(dropna=False) > 1]


def _num(value):
    """A float for display: 5 significant digits (the page stays small), None for NaN."""
    return float(f"{value:.5g}") if np.isfinite(value) else None


def curves(records, bounds=None):
    """Per metric and setting, one series: the mean over seeds at each (thinned) step, the 95% interval
    of the mean (from five seeds on, else None; cut at `bounds`: metric -> range) and each seed's values."""
    from bench.plotting import mean_ci

    keys = swept(records)
    series = []
    metrics = list(dict.fromkeys(records["metric"]))
    n_series = len(records.drop_duplicates(keys + ["metric"])) if keys else len(metrics)
    keep = max(MIN_POINTS_PER_CURVE, POINTS_PER_RUN // max(1, n_series))
    for metric in metrics:
        stats = mean_ci(records, metric, keys, bounds=(bounds or {}).get(metric))
        seeds = [c for c in stats.columns if c.startswith("seed:")]
        for _, group in (stats.groupby(keys, sort=False, dropna=False) if keys else [((), stats)]):
            group = group.iloc[_thin(group["step"].to_numpy(), keep)]
            series.append({"metric": metric, "setting": {k: _plain(group[k].iloc[0]) for k in keys},
                           "step": group["step"].astype(int).tolist(),
                           **{c: [_num(v) for v in group[c]] for c in ("mean", "low", "high")},
                           "seeds": {s[5:]: [_num(v) for v in group[s]] for s in seeds if group[s].notna().any()}})
    return keys, series


def manifest_view(manifest):
    """The manifest's fields a reader checks first, as plain values."""
    from bench.runs import cell_counts

    config = manifest.get("config", {})
    counts = cell_counts(manifest)
    failed = [{"params": json.dumps(s.get("params", {}), default=str), "seed": _plain(s.get("seed")),
               "message": str(s.get("message", ""))}
              for s in manifest.get("cells", {}).values() if s.get("status") == "failed"]
    return {"settings": {k: json.dumps(v, default=str) for k, v in config.get("grid", {}).items()},
            "fields": {"data set": config.get("dataset"),
                       "data set content": json.dumps(manifest.get("data", "not recorded"), default=str),
                       "seeds": config.get("seeds"),
                       "quick": bool(config.get("quick")), "root seed": config.get("root_seed"),
                       "experiment version": config.get("version"), "parallel": config.get("parallel"),
                       "code": manifest.get("code_version"), "started": manifest.get("started"),
                       "finished": manifest.get("finished") or "running or stopped",
                       "machine": json.dumps(manifest.get("machine", {}), default=str),
                       "packages": json.dumps(manifest.get("packages", {}), default=str),
                       "plugins": json.dumps(manifest.get("plugins", {}), default=str)},
            "cells": counts, "failed": failed, "headline": manifest.get("headline") or ""}


def _comparisons(runs, summaries, directions):
    """Every ordered pair of runs: bench.compare's matched-cell table, or why there is none."""
    from bench.compare import compare_summaries

    out = {}
    for a in runs:
        for b in runs:
            if a == b:
                continue
            try:
                comparison = compare_summaries(summaries[a], summaries[b], directions)
            except UserError as e:
                out[f"{a}\n{b}"] = {"error": str(e)}
                continue
            table = comparison.table
            keys = [c for c in table.columns if c not in COMPARE_COLUMNS and c != "metric"
                    and table[c].astype(str).nunique() > 1]  # the settings tell rows apart by these
            rows = []
            for r in table.to_dict("records"):
                rows.append({"setting": ", ".join(f"{k}={r[k]}" for k in keys) or "(all)", "metric": r["metric"],
                             **{c: _plain(r[c]) for c in COMPARE_COLUMNS if c != "verdict"}, "mark": r["verdict"]})
            differs = {k: [str(v) for v in ab] for k, ab in comparison.differs.items()}
            out[f"{a}\n{b}"] = {"rows": rows, "differs": differs}
    return out


COMPARE_COLUMNS = ["mean_a", "mean_b", "diff", "ci95_welch_low", "ci95_welch_high", "n_a", "n_b", "n_diverged_a",
                   "n_diverged_b", "p", "p_bh", "margin", "p_equivalent", "detectable", "verdict"]


def collect(root, names=None, run=None):
    """The page's data: for each experiment with stored runs (or `names`), each run's curves,
    manifest and figure links, and the comparisons of its runs."""
    from bench import registry

    root = Path(root)
    experiments = []
    known = registry.all_experiments()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if (names and folder.name not in names) or folder.name not in known:
            continue
        runs, summaries = [], {}
        for run_dir in sorted(p.parent for p in folder.glob("*/manifest.json")):
            if run and run_dir.name != run:
                continue
            store = RunStore(run_dir)
            try:
                manifest = store.read_manifest()
                records, summary = store.read_records(), store.read_summary()
            except UserError as e:
                runs.append({"name": run_dir.name, "error": str(e)})
                continue
            keys, rows = curves(records, known[folder.name].bounds())
            summaries[run_dir.name] = summary
            runs.append({"name": run_dir.name, "params": keys, "curves": rows, "manifest": manifest_view(manifest),
                         "figures": [str(p.relative_to(root)) for p in sorted((run_dir / "figures").glob("*.png"))]})
        if runs:
            experiment = known[folder.name]
            experiments.append({"name": folder.name, "description": experiment.description, "runs": runs,
                                "compare": _comparisons(list(summaries), summaries, experiment.metrics)})
    damaged = [r["error"] for e in experiments for r in e["runs"] if "error" in r]
    if experiments and len(damaged) == sum(len(e["runs"]) for e in experiments):
        raise UserError(damaged[0] + (f" (and {len(damaged) - 1} more damaged runs)" if len(damaged) > 1 else ""))
    if not experiments:
        selected = f" of {', '.join(names)}" if names else ""
        named = f" named {run!r}" if run else ""
        raise UserError(f"no runs{selected}{named} under {root}: run an experiment first (`python -m bench run NAME`)")
    return {"generated": time.strftime("%Y-%m-%d %H:%M:%S %z"), "nnbench": nnbench_version(),
            "experiments": experiments, "damaged": damaged}


def _script_json(data):
    """JSON that cannot end its script element or open another: '<', '>' and '&' as \\u escapes."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_page(results_dir=None, names=None, run=None):
    """Write <results>/report.html; return its path and what is wrong with each run it could not read
    (such a run is listed in the page with its problem; when every run is damaged, a UserError)."""
    import vl_convert

    root = results_root(results_dir)
    data = collect(root, names, run)
    # Split at the markers rather than replace them: no text inside the data can act as a marker.
    head, rest = PAGE.read_text().split("/*VEGA*/")
    middle, tail = rest.split("/*DATA*/")
    page = head + vl_convert.javascript_bundle().replace("</script", "<\\/script") + middle + _script_json(data) + tail
    path = root / "report.html"
    write_text(path, page)
    return path, data["damaged"]

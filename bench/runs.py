"""`python -m bench runs`: every stored run, newest first — the history to browse before comparing two."""

from collections import Counter

from bench import registry
from bench.errors import UserError
from bench.grid import resolve_grid, values_text
from bench.store import RunStore, results_root


def _changed(experiment, config):
    """The settings a run made differently from its experiment's defaults (for its data set and --quick)."""
    if experiment is None:
        return "?"
    try:
        defaults, _, seeds = resolve_grid(experiment, dataset=config.get("dataset"), quick=bool(config.get("quick")))
    except UserError:
        return "?"
    grid = config.get("grid", {})
    changes = [f"{k}={values_text(v)}" for k, v in grid.items() if defaults.get(k) != v]
    if config.get("seeds") != seeds:
        changes.append(f"seeds={config.get('seeds')}")
    if config.get("root_seed"):
        changes.append(f"root_seed={config['root_seed']}")
    return " ".join(changes) or "defaults"


def cell_counts(manifest):
    """{status: number of cells} of a run's manifest ("?" for a status without one)."""
    return dict(Counter(s.get("status", "?") for s in manifest.get("cells", {}).values()))


def list_runs(results_dir=None, experiment=None):
    """One dict per run folder under the results folder: experiment, run, finished, data set, quick,
    the settings that differ from the defaults, and cell counts by status."""
    root = results_root(results_dir)
    if not root.is_dir():
        raise UserError(f"no results folder {root}: run an experiment first (`python -m bench run NAME`)")
    known = registry.all_experiments()
    rows = []
    for manifest_path in sorted(root.glob("*/*/manifest.json")):
        folder = manifest_path.parent
        name = folder.parent.name
        if experiment and name != experiment:
            continue
        row = {"experiment": name, "run": folder.name, "path": folder}
        try:
            manifest = RunStore(folder).read_manifest()
        except UserError:
            rows.append({**row, "finished": "", "dataset": "", "quick": "", "settings": "damaged manifest",
                         "cells": ""})
            continue
        config = manifest["config"]
        counts = cell_counts(manifest)
        rows.append({**row, "finished": manifest.get("finished") or "running or stopped",
                     "dataset": config.get("dataset", ""), "quick": "quick" if config.get("quick") else "",
                     "settings": _changed(known.get(name), config),
                     "cells": ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))})
    rows.sort(key=lambda r: r["finished"], reverse=True)
    return rows


def format_runs(rows):
    if not rows:
        return "no runs"
    columns = ["experiment", "run", "finished", "dataset", "quick", "cells", "settings"]
    cells = [[str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


"""Figures rebuilt from stored tables, and one self-contained HTML page of every experiment."""

import base64
import html
import io
from pathlib import Path

from bench import registry
from bench.atomic import write_figure, write_text
from bench.errors import UserError
from bench.plotting import style
from bench.store import RunStore, resolve_run_dir, results_root


def save_figures(experiment, records, folder):
    """Draw the experiment's figures from `records`; write each as PNG and SVG. Returns the names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with style():
        figures = experiment.plot(records)
        for name, fig in figures.items():
            write_figure(folder / f"{name}.png", fig)
            # The PNG's draw placed every axes (constrained layout); the SVG reuses that layout.
            fig.set_layout_engine(None)
            write_figure(folder / f"{name}.svg", fig)
    return sorted(figures)


def rebuild(name, run="latest", results_dir=None):
    """Redraw one run's figures from its records.parquet, without training anything."""
    experiment = registry.get(name)
    folder = resolve_run_dir(results_root(results_dir), name, run)
    store = RunStore(folder)
    made_by = store.read_manifest()["config"].get("version")
    if made_by != experiment.version:
        raise UserError(f"{folder} was made by version {made_by} of {name}, whose tables this version "
                        f"({experiment.version}) cannot draw: run it again with --force")
    records = store.read_records()
    return folder, save_figures(experiment, records, store.figures_dir)


def _png_data(path):
    return base64.b64encode(Path(path).read_bytes()).decode()


def html_report(results_dir=None, names=None):
    """Write results/report.html: each experiment's latest run, its figures inline and its summary."""
    root = results_root(results_dir)
    names = names or [n for n in registry.all_experiments() if (root / n / "latest").exists()]
    if not names:
        raise UserError(f"no runs under {root}: run an experiment first (`python -m bench run NAME`)")
    sections = []
    for name in names:
        experiment = registry.get(name)
        folder = resolve_run_dir(root, name, "latest")
        store = RunStore(folder)
        summary = store.read_summary()
        manifest = store.read_manifest()
        imgs = "".join(
            f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,{_png_data(p)}">'
            f"<figcaption>{html.escape(p.stem)}</figcaption></figure>"
            for p in sorted(store.figures_dir.glob("*.png")))
        buf = io.StringIO()
        summary.to_html(buf, index=False, float_format=lambda v: f"{v:.4g}", border=0)
        config = manifest["config"]
        sections.append(
            f"<section><h2>{html.escape(name)}</h2><p>{html.escape(experiment.description)}</p>"
            f"<p class=meta>run <code>{html.escape(str(folder))}</code> · dataset {html.escape(config['dataset'])}"
            f" · seeds {config['seeds']} · code {html.escape(str(manifest.get('code_version')))}"
            f" · finished {html.escape(str(manifest.get('finished')))}</p>"
            f"<p><b>{html.escape(manifest.get('headline') or '')}</b></p>{imgs}"
            f"<details><summary>summary table</summary>{buf.getvalue()}</details></section>")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>nnbench report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
img{{max-width:100%}}figure{{margin:1em 0}}figcaption{{color:#666;font-size:.85em}}
table{{border-collapse:collapse;font-size:.8em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}}
.meta{{color:#666;font-size:.85em}}section{{border-top:1px solid #ccc;margin-top:2em}}</style></head>
<body><h1>nnbench report</h1>{''.join(sections)}</body></html>"""
    path = root / "report.html"
    write_text(path, page)
    return path

"""bench.report: figures split by what they do not show, and their captions."""

from dataclasses import replace

import pytest

from bench import registry
from bench.errors import UserError
from bench.provenance import nnbench_version
from bench.report import (
    _split,
    caption,
    context_of,
    failed_cells,
    rebuild,
    save_figures,
    save_tables,
    unshown_parameters,
)
from experiments.optimizer_compare import EXPERIMENT as OPTIMIZERS
from tests.bench.conftest import fake_records
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)


def test_a_parameter_the_figure_does_not_show_splits_it():
    default = fake_records([{"optimizer": "sgd", "lr": 0.01}, {"optimizer": "adam", "lr": 0.001}], 2)
    assert unshown_parameters(OPTIMIZERS, default) == []  # lr follows the optimizer: nothing hidden
    swept = fake_records([{"optimizer": o, "lr": lr} for o in ("sgd", "adam") for lr in (0.01, 0.1)], 2)
    assert unshown_parameters(OPTIMIZERS, swept) == ["lr"]
    assert unshown_parameters(TOY, fake_records([{"lr": 0.1, "hidden": h} for h in (4, 8)], 2)) == ["hidden"]


def test_split_figures_and_their_captions(tmp_path):
    records = fake_records([{"lr": lr, "hidden": h} for lr in (0.1, 0.5) for h in (4, 8)], 2)
    names = save_figures(TOY, records, tmp_path, {"run": "moons-quick", "quick": True})
    assert names == ["loss__hidden=4", "loss__hidden=8"]
    svg = (tmp_path / "loss__hidden=4.svg").read_text()
    assert "hidden=4" in svg and "hidden=8" not in svg
    text = caption(TOY, records[records["hidden"] == 4], {"run": "moons-quick", "quick": True})
    for part in ("data: moons", "2 seeds: mean and each of 2 seeds", "--quick", "run moons-quick", "nnbench "):
        assert part in text
    assert text in svg
    # Drawing again unsplit removes the split files of the earlier drawing.
    assert save_figures(TOY, records[records["hidden"] == 4], tmp_path, {}) == ["loss"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "loss.svg"]


def _toy(**params):
    """Toy records with `params` added to every cell and a second setting of each unshown parameter."""
    return fake_records([{"lr": lr, **params} for lr in (0.1, 0.5)], 2)


def test_split_titles_name_each_value_and_cells_without_the_parameter_join_every_part():
    import pandas as pd

    sgd = fake_records([{"lr": 0.1, "momentum": m, "opt": "a b/c"} for m in (0.5, 0.9)], 1)
    plain = fake_records([{"lr": 0.1, "opt": "a b/c"}], 1)
    plain["cell_id"] = "plain" + plain["cell_id"]
    records = pd.concat([sgd, plain], ignore_index=True)
    parts = _split(TOY, records)
    assert [(suffix, title) for suffix, title, _ in parts] == [("__momentum=0.5", "momentum=0.5"),
                                                             ("__momentum=0.9", "momentum=0.9")]
    for _, _, part in parts:
        assert part["cell_id"].str.startswith("plain").sum() == 12 and part.index.is_monotonic_increasing
    two = fake_records([{"lr": 0.1, "hidden": h, "opt": o} for h in (4, 8) for o in ("a b/c", "d")], 1)
    assert [(s, t) for s, t, _ in _split(TOY, two)][:2] == [("__hidden=4__opt=a_b_c", "hidden=4, opt=a b/c"),
                                                          ("__hidden=4__opt=d", "hidden=4, opt=d")]
    assert [(s, t) for s, t, _ in _split(TOY, _toy(hidden=4))] == [("", "")]


def test_a_tuned_experiments_trials_are_not_split_apart():
    from experiments.optimizer_benchmark import EXPERIMENT as BENCHMARK

    shown = BENCHMARK.tuning.shown
    records = fake_records([{"optimizer": "sgd", "problem": "moons", **{k: i for k in shown}} for i in range(3)], 1)
    assert unshown_parameters(BENCHMARK, records) == []


def test_caption_counts_seeds_and_says_quick_and_the_run():
    one = fake_records([{"lr": 0.1}], 1)
    text = caption(TOY, one, {})
    assert text.startswith("toy · data: moons · 1 seed: one seed · run ? · nnbench ")
    assert "quick" not in text and text.endswith(nnbench_version())
    bare = caption(TOY, one.drop(columns="dataset"), {"run": "r1"})
    assert bare.startswith("toy · data: ? · 1 seed: one seed · run r1")


def test_figures_are_png_and_svg_with_the_split_title_added_to_the_experiments_own(tmp_path):
    import matplotlib.image

    names = save_figures(OPTIMIZERS, fake_records([{"optimizer": "sgd", "lr": lr} for lr in (0.01, 0.1)], 2),
                         tmp_path / "new" / "figures")
    assert names == sorted(names) and len(names) >= 2 and all("__lr=" in n for n in names)
    for name in names:
        assert matplotlib.image.imread(tmp_path / "new" / "figures" / f"{name}.png").ndim == 3
        svg = (tmp_path / "new" / "figures" / f"{name}.svg").read_text()
        title, other = name.split("__")[1], {"lr=0.01": "lr=0.1", "lr=0.1": "lr=0.01"}[name.split("__")[1]]
        assert svg.startswith("<?xml") and title in svg and other not in svg


def test_save_tables_writes_each_of_the_experiments_tables_as_csv(tmp_path):
    import pandas as pd

    def tables(records):
        return {"zeta": pd.DataFrame({"a": [1, 2]}), "alpha": pd.DataFrame({"b": ["x"]})}

    with_tables = replace(TOY, tables=tables)
    assert save_tables(with_tables, None, tmp_path / "t") == ["alpha", "zeta"]
    assert (tmp_path / "t" / "zeta.csv").read_text() == "a\n1\n2\n"
    assert (tmp_path / "t" / "alpha.csv").read_text() == "b\nx\n"
    assert save_tables(TOY, None, tmp_path / "none") == [] and not (tmp_path / "none").exists()


def test_failed_cells_and_context_of_a_manifest():
    manifest = {"cells": {"a": {"status": "ok"}, "b": {"status": "failed", "params": {"lr": 0.5, "dataset": "moons"},
                                                       "seed": 2, "message": "boom"},
                          "c": {"status": "failed"}}}
    assert failed_cells(manifest) == ['failed: [lr=0.5, seed 2]: boom', "failed: [, seed None]: None"]
    assert failed_cells({}) == []
    assert context_of({"run": "r", "quick": 1}, "/x/other") == {"run": "r", "quick": True}
    assert context_of({}, "/x/folder") == {"run": "folder", "quick": False}


def test_rebuild_redraws_a_run_and_refuses_another_versions(tmp_path, monkeypatch):
    import bench

    bench.run("toy", seeds=1, results_dir=tmp_path, progress=False, jobs=1, run="r1", overrides={"steps": [3]},
              figures=False)
    folder, names = rebuild("toy", "r1", tmp_path)
    assert folder == tmp_path / "toy" / "r1" and names == ["loss"]
    svg = (folder / "figures" / "loss.svg").read_text()
    assert "run r1" in svg and "1 seed: one seed" in svg
    monkeypatch.setitem(registry._REGISTRY, "toy", replace(TOY, version=2))
    with pytest.raises(UserError, match=r"made by version 1 of toy, whose tables this version \(2\) cannot draw: "
                                        r"run it again with --force$"):
        rebuild("toy", "r1", tmp_path)


def test_rebuild_writes_the_summary_again_and_keeps_the_run_up_to_date(tmp_path):
    """A run stored by an older nnbench (its summary has the bootstrap's columns) gets today's summary,
    and a rerun of the same command still finds nothing to do."""
    import pandas as pd

    import bench
    from bench.store import RunStore

    first = bench.run("toy", seeds=3, results_dir=tmp_path, progress=False, jobs=1, run="r1",
                      overrides={"steps": [3]}, figures=False)
    store = RunStore(first.path)
    old = first.summary.rename(columns={"ci95_low": "ci95_boot_low", "ci95_high": "ci95_boot_high"})
    store.write_summary(old)
    rebuild("toy", "r1", tmp_path)
    pd.testing.assert_frame_equal(store.read_summary(), first.summary)
    assert store.up_to_date(list(store.read_manifest()["cells"]), figures=False)

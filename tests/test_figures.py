"""What figures show: every seed below five and a band from five, one colour per level in every
panel, no parameter averaged away unseen, and a caption saying what the figure is."""

import numpy as np
import pandas as pd

from bench import registry
from bench.plotting import style
from bench.report import caption, save_figures, unshown_parameters
from experiments.optimizer_compare import EXPERIMENT as OPTIMIZERS
from experiments.weight_init_compare import EXPERIMENT as INITS
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)


def fake_records(levels, seeds, steps=12, extra=None, metric="loss"):
    """Tidy records of `levels` (dicts of parameters) x seeds, a decreasing noisy curve each."""
    rng = np.random.default_rng(0)
    rows = []
    for i, params in enumerate(levels):
        for seed in range(seeds):
            cell = f"{i:04d}{seed:04d}"
            values = np.linspace(2.0, 0.5, steps) + 0.05 * rng.standard_normal(steps)
            for step, v in enumerate(values):
                rows.append({"experiment": "x", "cell_id": cell, "seed": seed, **params, **(extra or {}),
                             "dataset": "moons", "step": step, "epoch": step / 4, "metric": metric, "value": v})
    return pd.DataFrame(rows)


def drawn(fig):
    ax = fig.axes[0]
    labelled = [line for line in ax.lines if not line.get_label().startswith("_")]
    return labelled, [line for line in ax.lines if line.get_label().startswith("_")], ax.collections


def test_few_seeds_are_drawn_as_lines_and_five_or_more_as_a_band():
    with style():
        two = TOY.plot(fake_records([{"lr": 0.1}, {"lr": 0.5}], seeds=2))["loss"]
        five = TOY.plot(fake_records([{"lr": 0.1}, {"lr": 0.5}], seeds=5))["loss"]
    means, seeds, bands = drawn(two)
    assert len(means) == 2 and len(seeds) == 4 and not bands
    assert {s.get_color() for s in seeds} == {m.get_color() for m in means}
    means, seeds, bands = drawn(five)
    assert len(means) == 2 and not seeds and len(bands) == 2
    # The band lies within the seeds' values at every step: inside the metric's range.
    records = fake_records([{"lr": 0.1}], seeds=5)
    lo, hi = records.groupby("step")["value"].min(), records.groupby("step")["value"].max()
    path = bands[0].get_paths()[0].vertices[:, 1]
    assert path.min() >= lo.min() - 1e-12 and path.max() <= hi.max() + 1e-12


def test_one_colour_per_level_in_every_panel():
    # The second panel meets the levels in another order: colours must follow the level, not the order.
    relu = fake_records([{"init": "0.01"}, {"init": "xavier"}, {"init": "he"}], 2, extra={"activation": "relu"})
    sigmoid = fake_records([{"init": "he"}, {"init": "0.01"}, {"init": "xavier"}], 2,
                           extra={"activation": "sigmoid"})
    sigmoid["cell_id"] = "s" + sigmoid["cell_id"]
    with style():
        fig = INITS.plot(pd.concat([relu, sigmoid], ignore_index=True))["weight_init_compare"]
    colours = [{line.get_label(): line.get_color() for line in ax.lines if not line.get_label().startswith("_")}
               for ax in fig.axes]
    assert len(colours) == 2 and colours[0] == colours[1] and len(set(colours[0].values())) == 3
    assert sum(ax.get_legend() is not None for ax in fig.axes) == 1


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


def test_a_sweep_draws_each_seed_as_one_line_along_the_swept_parameter():
    from bench.plotting import figure, mean_ci, spread

    records = fake_records([{"lr": lr} for lr in (0.1, 0.2, 0.5)], seeds=2, steps=1)
    stats = mean_ci(records, "loss", [], x="lr")
    seeds = [c for c in stats.columns if c.startswith("seed:")]
    assert len(seeds) == 2 and stats[seeds].notna().all().all() and list(stats["lr"]) == [0.1, 0.2, 0.5]
    with style():
        fig, axes = figure()
        spread(axes[0, 0], stats, "lr")
    thin = [line for line in axes[0, 0].lines if line.get_linewidth() < 1]
    assert len(thin) == 2 and all(len(line.get_xdata()) == 3 for line in thin)

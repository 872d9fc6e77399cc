"""bench.plotting: seeds as lines or a band, one colour per level, sweeps along a parameter."""

import pandas as pd

from bench import registry
from bench.plotting import style
from experiments.weight_init_compare import EXPERIMENT as INITS
from tests.bench.conftest import fake_records
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)


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

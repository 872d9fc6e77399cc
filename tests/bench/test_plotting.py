"""bench.plotting: seeds as lines or a band, one colour per level, sweeps along a parameter."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from bench import registry
from bench.plotting import figure, kaiser_smooth, levels, mean_ci, palette, spread, spread_label, style
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
    # The band is the Student-t 95% interval of the mean at each step.
    records = fake_records([{"lr": 0.1}], seeds=5)
    by_step = records.groupby("step")["value"]
    half = student_t.ppf(0.975, 4) * by_step.std() / np.sqrt(5)
    path = bands[0].get_paths()[0].vertices[:, 1]
    assert path.min() == pytest.approx((by_step.mean() - half).min(), rel=1e-9)
    assert path.max() == pytest.approx((by_step.mean() + half).max(), rel=1e-9)


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
    records = fake_records([{"lr": lr} for lr in (0.1, 0.2, 0.5)], seeds=2, steps=1)
    stats = mean_ci(records, "loss", [], x="lr")
    seeds = [c for c in stats.columns if c.startswith("seed:")]
    assert len(seeds) == 2 and stats[seeds].notna().all().all() and list(stats["lr"]) == [0.1, 0.2, 0.5]
    with style():
        fig, axes = figure()
        spread(axes[0, 0], stats, "lr")
    thin = [line for line in axes[0, 0].lines if line.get_linewidth() < 1]
    assert len(thin) == 2 and all(len(line.get_xdata()) == 3 for line in thin)


def test_kaiser_smooth_is_the_books_window_over_the_books_extension():
    """Each point becomes the Kaiser(11, beta 2)-weighted average of the 11 points around it; past the
    first point the curve is mirrored (y[1], y[2], ...), past the last it is mirrored with the last
    point repeated (y[-1], y[-2], ...), as the book's smooth_curve extends it."""
    y = np.random.default_rng(3).random(23)
    weights = np.kaiser(11, 2.0)
    extended = np.concatenate([np.pad(y, (5, 0), mode="reflect")[:5], y, np.pad(y, (0, 5), mode="symmetric")[-5:]])
    expected = [sum(weights[k] * extended[i + k] for k in range(11)) / weights.sum() for i in range(len(y))]
    np.testing.assert_allclose(kaiser_smooth(y), expected, rtol=0, atol=1e-15)
    assert extended[:5].tolist() == y[5:0:-1].tolist() and extended[-5:].tolist() == y[:-6:-1].tolist()
    assert kaiser_smooth(list(y[:10])).tolist() == y[:10].tolist()  # shorter than the window: unchanged
    assert len(kaiser_smooth(y[:11])) == 11
    wide = kaiser_smooth(y, window=5, beta=0.0)  # beta 0: a plain moving average of 5
    assert wide[10] == pytest.approx(y[8:13].mean(), abs=1e-15)


def _rows(cells):
    """Tidy rows of (cell_id, seed, lr, step, value) for the loss."""
    return pd.DataFrame([{"experiment": "x", "cell_id": c, "seed": s, "lr": lr, "step": step, "epoch": 0.0,
                          "metric": "loss", "value": v} for c, s, lr, step, v in cells])


def test_mean_ci_by_hand_groups_in_order_of_appearance_and_steps_ascending():
    nan = float("nan")
    records = _rows([("b0", 0, 0.5, 2, 4.0), ("b0", 0, 0.5, 0, 1.0), ("b1", 1, 0.5, 0, 3.0), ("b1", 1, 0.5, 2, nan),
                     ("a0", 0, 0.1, 0, 2.0), ("a0", 0, 0.1, 2, nan), ("a1", 1, 0.1, 0, 6.0), ("a1", 1, 0.1, 2, nan)])
    stats = mean_ci(records, "loss", ["lr"])
    assert stats.columns.tolist() == ["lr", "step", "mean", "n", "low", "high", "seed:0", "seed:1"]
    assert stats[["lr", "step"]].values.tolist() == [[0.5, 0], [0.5, 2], [0.1, 0], [0.1, 2]]
    assert stats["mean"].tolist()[:3] == [2.0, 4.0, 4.0] and np.isnan(stats["mean"].iloc[3])  # all diverged
    assert stats["n"].tolist() == [2, 1, 2, 0]
    assert stats[["seed:0", "seed:1"]].iloc[0].tolist() == [1.0, 3.0] and stats["low"].isna().all()
    assert stats["high"].isna().all()
    other = _rows([("c0", 0, 0.1, 0, 1.0)]).assign(metric="acc")
    assert mean_ci(pd.concat([records, other]), "acc", ["lr"])[["lr", "mean", "n"]].values.tolist() == [[0.1, 1.0, 1]]


def test_mean_ci_bands_from_five_seeds_inside_their_values():
    values = [0.2, 0.4, 0.5, 0.9, 1.0]
    records = _rows([(f"c{s}", s, 0.1, step, v + step) for s, v in enumerate(values) for step in (0, 1)]
                    + [(f"d{s}", s, 0.2, 0, v) for s, v in enumerate(values[:4])])
    stats = mean_ci(records, "loss", ["lr"])
    banded = stats.iloc[:2]
    assert banded["n"].tolist() == [5, 5] and banded["mean"].tolist() == pytest.approx([0.6, 1.6])
    assert (banded["low"] < banded["mean"]).all() and (banded["mean"] < banded["high"]).all()
    half = student_t.ppf(0.975, 4) * np.std(values, ddof=1) / np.sqrt(5)
    assert banded["low"].tolist() == pytest.approx([0.6 - half, 1.6 - half], rel=1e-12)
    assert banded["high"].tolist() == pytest.approx([0.6 + half, 1.6 + half], rel=1e-12)
    cut = mean_ci(records, "loss", ["lr"], bounds=(0.2, 1.5)).iloc[:2]  # the metric's range cuts the band
    assert cut["low"].tolist() == pytest.approx([0.2, 1.6 - half])
    assert cut["high"].tolist() == pytest.approx([0.6 + half, 1.5])
    assert np.isnan(stats["low"].iloc[2]) and stats["n"].iloc[2] == 4  # four seeds: no band


def test_mean_ci_smooths_each_cell_along_its_steps_before_averaging():
    records = _rows([("a", 0, 0.1, step, float(step)) for step in (3, 1, 2, 0)]
                    + [("b", 1, 0.1, step, 10.0) for step in (0, 1, 2, 3)])
    stats = mean_ci(records, "loss", [], smooth=np.cumsum)
    assert stats["seed:0"].tolist() == [0.0, 1.0, 3.0, 6.0] and stats["seed:1"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert stats["mean"].tolist() == [5.0, 10.5, 16.5, 23.0]
    assert records["step"].tolist()[:4] == [3, 1, 2, 0]  # the caller's table is left as it was


def test_levels_keep_first_appearance_and_the_palette_cycles_through_ten_colours():
    assert levels(pd.DataFrame({"act": ["tanh", "relu", "tanh", "elu"]}), "act") == ["tanh", "relu", "elu"]
    names = [f"v{i}" for i in range(12)]
    assert palette(names) == {**{f"v{i}": f"C{i}" for i in range(10)}, "v10": "C0", "v11": "C1"}


def test_spread_label_says_how_the_seeds_are_shown():
    assert spread_label(1) == "one seed"
    assert spread_label(4) == "mean and each of 4 seeds"
    assert spread_label(5) == "mean, Student-t 95% interval of the mean over seeds"


def test_spread_draws_seeds_thinner_and_fainter_than_the_mean_and_a_translucent_band():
    few = mean_ci(fake_records([{"lr": 0.1}], seeds=2, steps=4), "loss", [])
    many = mean_ci(fake_records([{"lr": 0.1}], seeds=5, steps=4), "loss", [])
    with style():
        fig, axes = figure(1, 2, sharey=True)
        mean = spread(axes[0, 0], few, "step", label="few", color="C3", linestyle="--", marker="o")
        spread(axes[0, 1], many, "step", label="many", alpha=0.3)
    seeds = axes[0, 0].lines[1:]
    assert mean.get_label() == "few" and mean.get_color() == "C3" and mean.get_linestyle() == "--"
    assert mean.get_marker() == "o" and mean.get_markersize() < 6  # markers under matplotlib's default size
    assert len(seeds) == 2 and all(s.get_color() == "C3" and s.get_linestyle() == "--" for s in seeds)
    assert all(s.get_linewidth() < mean.get_linewidth() and s.get_alpha() < 1 for s in seeds)
    assert mean.get_alpha() is None
    (band,) = axes[0, 1].collections
    assert band.get_alpha() == 0.3 and band.get_linewidth()[0] == 0
    assert axes[0, 1].lines[0].get_marker() in (None, "None") and len(axes[0, 1].lines) == 1
    empty = mean_ci(fake_records([{"lr": 0.1}], seeds=1, steps=2).iloc[:0], "loss", [])
    with style():
        fig, axes = figure()
        spread(axes[0, 0], empty, "step")
    assert len(axes[0, 0].lines) == 1 and not axes[0, 0].collections


def test_figure_gives_a_2d_axes_array_of_the_asked_size_in_the_house_style():
    fig, axes = figure(2, 3, width=5.0, height=2.5)
    assert axes.shape == (2, 3) and tuple(fig.get_size_inches()) == (5.0, 2.5)
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    ax = axes[0, 0]
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    assert ax.xaxis.get_gridlines()[0].get_visible()
    one, single = figure()
    assert single.shape == (1, 1)

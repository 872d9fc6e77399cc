"""bench.report: figures split by what they do not show, and their captions."""

from bench import registry
from bench.report import caption, save_figures, unshown_parameters
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

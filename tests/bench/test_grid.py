"""bench.grid: values and overrides, datasets and grids, cells and their ids, tuned stages."""

import re
from dataclasses import replace

import numpy as np
import pytest

from bench import registry, tuning
from bench.errors import UserError
from bench.grid import (
    _checked,
    cell_id,
    describe,
    describe_params,
    expand,
    final_cells,
    parse_overrides,
    parse_value,
    resolve_dataset,
    resolve_grid,
    split_values,
    tune_cells,
    values_text,
)
from bench.params import LR, Float
from nncore.datasets import outside
from tests.bench.conftest import one_line
from tests.helpers import points_npz
from tests.toy_experiment import EXPERIMENT as TOY


def npz_set(path, features):
    """A small outside data set: six random training samples of two classes, two test samples."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((6, features)), t_train=np.arange(6) % 2, x_test=rng.random((2, features)),
             t_test=np.arange(2))
    return f"npz:{path}"


def test_parse_value_rules():
    assert parse_value(" 0.5 ") == 0.5 and parse_value("null") is None and parse_value("a b") == "a b"
    assert parse_value('"7"') == "7" and parse_value("{\"a\": 1}") == {"a": 1}
    for text, message in ((" ", "empty value"), ("[1,", "malformed value '[1,'"), ("{a", "malformed value '{a'"),
                          ('"x', "malformed value '\"x'")):
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            parse_value(text)


def test_split_values_at_top_level_commas_only():
    assert split_values("") == [""]
    assert split_values("[1,[2,3]],{\"a\":[4,5]},x") == ["[1,[2,3]]", "{\"a\":[4,5]}", "x"]
    assert split_values("a,,b") == ["a", "", "b"]
    for text in ("a]", "[a", "[1]],[2"):
        with pytest.raises(ValueError, match=f"^unbalanced brackets in {re.escape(repr(text))}$"):
            split_values(text)


def test_overrides_messages_and_duplicates():
    params = "lr, hidden, steps, mode, sleep"
    with one_line(f"malformed override 'lr': write --set NAME=VALUE[,VALUE...]; parameters: {params}"):
        parse_overrides(["lr"], TOY)
    with one_line(f"malformed override '=1': write --set NAME=VALUE[,VALUE...]; parameters: {params}"):
        parse_overrides(["=1"], TOY)
    with one_line('bad value for mode: "ok=1"; mode takes one of ok, fail, diverge'):
        parse_overrides(["mode=ok=1"], TOY)  # the name ends at the first '='
    with one_line("bad value for lr: unbalanced brackets in '0.1]'; write --set lr=VALUE[,VALUE...]"):
        parse_overrides(["lr=0.1]"], TOY)
    assert parse_overrides([" lr =0.1,0.1,0.2", "hidden=3"], TOY) == {"lr": [0.1, 0.2], "hidden": [3]}
    assert parse_overrides(None, TOY) == parse_overrides([], TOY) == {}
    assert _checked(LR, "lr", "1e-3, 0.001") == [0.001]


def test_overrides_of_parameters_that_exist_for_some_values_only():
    seen = []

    def extra_params(grid):
        seen.append(grid)
        return {"beta": Float("a coefficient", 0, 1)} if 0.5 in grid["lr"] else {}

    exp = replace(TOY, extra_params=extra_params)
    assert parse_overrides(["beta=0.25,0.75", "lr=0.5"], exp) == {"lr": [0.5], "beta": [0.25, 0.75]}
    assert seen[-1] == {**TOY.grid, "lr": [0.5]}  # asked with the overrides applied
    with one_line("unknown parameter 'beta' for toy: valid parameters are lr, hidden, steps, mode, sleep "
                  "(python -m bench show toy)"):
        parse_overrides(["beta=0.25", "lr=0.1"], exp)
    with one_line("bad value for beta: 2; beta takes a number >= 0 and <= 1"):
        parse_overrides(["lr=0.5", "beta=2"], exp)
    seen.clear()
    parse_overrides(["lr=0.5"], exp)
    assert seen == []  # no name left to look up: not asked


def test_values_text_and_descriptions():
    assert values_text([0.1, "adam", [100, 100], None, True]) == '0.1,adam,[100, 100],null,true'
    assert values_text("sgd") == "sgd" and values_text(3) == "3"
    cell = expand(TOY, *resolve_grid(TOY))[0]
    assert describe(cell) == '[lr=0.1, hidden=4, steps=30, mode="ok", sleep=0.0, seed 0]'
    assert describe_params({"optimizer": "adam", "dataset": "moons"}, 4) == '[optimizer="adam", seed 4]'


def test_cell_ids_follow_everything_that_decides_a_result():
    params = {"lr": 0.1, "dataset": "moons"}
    base = cell_id(TOY, params, 0, 0)
    # Stored runs resume by these ids: the scheme may not change under them.
    assert base == cell_id(TOY, dict(params), 0, 0) == "f9651dc3282b3bba" and len(base) == 16
    others = {cell_id(TOY, {**params, "lr": 0.2}, 0, 0), cell_id(TOY, params, 1, 0), cell_id(TOY, params, 0, 1),
              cell_id(replace(TOY, version=2), params, 0, 0), cell_id(replace(TOY, name="toy2"), params, 0, 0),
              cell_id(TOY, params, 0, 0, {"data_sha256": "ab"}),
              cell_id(replace(TOY, identity=lambda p: {"optimizer_sha256": "cd"}), params, 0, 0)}
    assert base not in others and len(others) == 7
    assert cell_id(replace(TOY, identity=lambda p: {}), params, 0, 0) == base  # nothing added: the same id


def test_resolve_dataset_messages(tmp_path):
    assert resolve_dataset(TOY, "moons") == ("moons", None)
    with one_line("toy runs on moons, not 'digits'"):
        resolve_dataset(TOY, "digits")
    with one_line("toy runs on moons, not 'npz:x.npz'"):
        resolve_dataset(TOY, "npz:x.npz")  # outside data only where the experiment accepts it
    exp = replace(TOY, datasets=("moons", "xor"), accepts=("images", "points"))
    with one_line("toy runs on moons, xor, or your own (npz:PATH, idx:DIR), not 'digits'"):
        resolve_dataset(exp, "digits")
    vectors = npz_set(tmp_path / "d.npz", features=3)
    with one_line(f"toy takes images or points data; {vectors} holds vectors"):
        resolve_dataset(exp, vectors)
    assert resolve_dataset(replace(exp, accepts=("vectors",)), vectors) == (vectors, "vectors")
    points = replace(TOY, accepts=("points",), dataset_grids={"points": {"hidden": [3]}})
    grid, dataset, _ = resolve_grid(points, dataset=npz_set(tmp_path / "p.npz", features=2))
    assert grid["hidden"] == [3] and dataset == f"npz:{tmp_path / 'p.npz'}"  # settings by the kind of data


def test_resolve_grid_applies_quick_then_overrides_then_seeds():
    exp = replace(TOY, datasets=("moons", "xor"), dataset_grids={"xor": {"hidden": [8]}},
                  quick={"steps": [10], "seeds": 1, "hidden": [2]})
    assert resolve_grid(exp) == ({**TOY.grid}, "moons", 2)
    assert resolve_grid(exp, dataset="xor") == ({**TOY.grid, "hidden": [8]}, "xor", 2)
    grid, _, seeds = resolve_grid(exp, {"hidden": [5]}, "xor", quick=True)
    assert grid == {**TOY.grid, "steps": [10], "hidden": [5]} and seeds == 1
    assert resolve_grid(exp, quick=True, seeds=4)[2] == 4 and resolve_grid(exp, seeds=0)[2] == 0
    checked = []
    resolve_grid(replace(exp, check=checked.append), {"lr": [0.3]})
    assert checked == [{**TOY.grid, "lr": [0.3]}]
    grid, _, _ = resolve_grid(exp)
    grid["lr"].append(9)
    assert TOY.grid["lr"] == [0.1, 0.5]  # the experiment's own lists are never handed out


def test_expand_lays_out_points_then_seeds():
    cells = expand(TOY, {"lr": [0.1, 0.5], "hidden": [4]}, "moons", 2, root_seed=7)
    assert [(c.params["lr"], c.seed) for c in cells] == [(0.1, 0), (0.1, 1), (0.5, 0), (0.5, 1)]
    assert all(c.experiment == "toy" and c.params["dataset"] == "moons" for c in cells)
    assert cells[3].cell_id == cell_id(TOY, {"lr": 0.5, "hidden": 4, "dataset": "moons"}, 1, 7)


TUNED = replace(TOY, tuning=tuning.Tuning(space=lambda point: {"lr": tuning.Range(0.01, 1, log=True)},
                                          metric="accuracy"))


def test_tune_and_final_cells(tmp_path):
    grid = {"hidden": [4, 8, 16], "steps": [30], "mode": ["ok"], "sleep": [0.0], "trials": [3]}
    groups = tune_cells(TUNED, grid, "moons", root_seed=1)
    assert [len(g) for g in groups] == [3, 3, 3] and expand(TUNED, grid, "moons", 5, 1) == sum(groups, [])
    cell = groups[1][2]
    assert cell.seed == 0 and cell.params == {"hidden": 8, "steps": 30, "mode": "ok", "sleep": 0.0,
                                              "lr": cell.params["lr"], "stage": "tune", "study": 0, "trial": 2,
                                              "dataset": "moons"}
    assert cell.cell_id == cell_id(TUNED, cell.params, 0, 1)
    # The trials are a function of the root seed: the same on every call, others under another seed.
    lrs = [[c.params["lr"] for c in g] for g in groups]
    assert lrs == [[c.params["lr"] for c in g] for g in tune_cells(TUNED, grid, "moons", root_seed=1)]
    assert lrs != [[c.params["lr"] for c in g] for g in tune_cells(TUNED, grid, "moons")]
    assert tune_cells(TUNED, grid, "moons") == tune_cells(TUNED, grid, "moons", root_seed=0)

    scores = {groups[1][0].cell_id: 0.5, groups[1][1].cell_id: 0.9, groups[1][2].cell_id: 0.9,
              groups[2][0].cell_id: 0.7}
    cells, unfinished = final_cells(TUNED, groups, lambda c: scores.get(c.cell_id), "moons", 2, root_seed=1)
    assert unfinished == [groups[0][0]]  # no trial of hidden 4 finished; the others go on
    best = {k: v for k, v in groups[1][1].params.items() if k != "dataset"}  # the first of the two best
    assert [c.params for c in cells[:2]] == [{**best, "stage": "final", "dataset": "moons"}] * 2
    assert [c.params["hidden"] for c in cells] == [8, 8, 16, 16] and [c.seed for c in cells] == [0, 1, 0, 1]
    assert cells[1].cell_id == cell_id(TUNED, {**best, "stage": "final", "dataset": "moons"}, 1, 1)
    default_seed = final_cells(TUNED, groups, lambda c: scores.get(c.cell_id), "moons", 2)[0]
    assert default_seed[0].cell_id == cell_id(TUNED, {**best, "stage": "final", "dataset": "moons"}, 0, 0)


def test_each_study_tunes_with_its_own_seed_and_confirms_with_its_own_seeds():
    grid = {"hidden": [4], "steps": [30], "mode": ["ok"], "sleep": [0.0], "trials": [2], "studies": [2]}
    groups = tune_cells(TUNED, grid, "moons")
    assert [[(c.params["study"], c.seed) for c in g] for g in groups] == [[(0, 0), (0, 0)], [(1, 1), (1, 1)]]
    cells, _ = final_cells(TUNED, groups, lambda c: 0.5, "moons", 3)
    assert [(c.params["study"], c.params["trial"], c.seed) for c in cells] == [
        (0, 0, 0), (0, 0, 1), (0, 0, 2), (1, 0, 3), (1, 0, 4), (1, 0, 5)]


def test_an_outside_data_sets_bytes_are_in_every_cell_id(tmp_path):
    exp = replace(TUNED, accepts=("points",))
    name, _ = resolve_dataset(exp, npz_set(tmp_path / "d.npz", features=2))
    grid = {"hidden": [4], "steps": [30], "mode": ["ok"], "sleep": [0.0], "trials": [2]}
    data = {"data_sha256": outside.digest(name)}
    (trial, _), = tune_cells(exp, grid, name)
    assert trial.params["dataset"] == name and trial.cell_id == cell_id(exp, trial.params, 0, 0, data)
    cells, _ = final_cells(exp, [[trial]], lambda c: 0.5, name, 1)
    assert cells[0].cell_id == cell_id(exp, cells[0].params, 0, 0, data)
    cells = expand(replace(exp, tuning=None), {"lr": [0.1], **grid}, name, 1)
    assert cells[0].cell_id == cell_id(exp, cells[0].params, 0, 0, data)


def test_a_sampled_grid_gets_the_root_seed():
    seen = []
    exp = replace(TUNED, points=lambda grid, seed: seen.append(seed) or [{"hidden": 4}])
    tune_cells(exp, {"trials": [1]}, "moons", root_seed=5)
    expand(replace(exp, tuning=None), {}, "moons", 1, root_seed=6)
    assert seen == [5, 6]


def test_plain_values_starting_with_letters_split_and_parse_as_text():
    assert parse_value("Xavier") == "Xavier" and split_values("X,Y") == ["X", "Y"]


def test_cell_ids_with_an_identity_and_values_json_cannot_hold():
    exp = replace(TOY, identity=lambda params: {"optimizer_sha256": f"digest of {params['lr']}"})
    params = {"lr": 0.1, "dataset": "moons"}
    assert cell_id(exp, params, 0, 0) == "a403770adc331a8a"  # pinned: stored runs resume by these ids
    assert cell_id(exp, params, 0, 0) != cell_id(exp, {**params, "lr": 0.2}, 0, 0)
    assert cell_id(TOY, {"lr": np.float64(0.1), "where": TOY.__class__}, 0, 0)  # written as text


def test_parse_values():
    assert parse_value("0.01") == 0.01 and parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("[100, 100]") == [100, 100] and parse_value("adam") == "adam"
    with pytest.raises(ValueError):
        parse_value("[1,")
    assert split_values("a,[1,2],b") == ["a", "[1,2]", "b"]
    with pytest.raises(ValueError):
        split_values("[1,2")


def test_overrides_checked_against_the_grid():
    assert parse_overrides(["lr=0.01,0.1", "hidden=8"], TOY) == {"lr": [0.01, 0.1], "hidden": [8]}
    with pytest.raises(UserError, match="unknown parameter 'lrr' for toy: valid parameters are lr, hidden"):
        parse_overrides(["lrr=1"], TOY)
    with pytest.raises(UserError, match="malformed override 'lr'"):
        parse_overrides(["lr"], TOY)
    with pytest.raises(UserError, match='bad value for lr: "fast"; lr takes a number > 0'):
        parse_overrides(["lr=fast"], TOY)
    with pytest.raises(UserError, match="mode takes one of ok, fail, diverge"):
        parse_overrides(["mode=explode"], TOY)
    with pytest.raises(UserError, match="bad value for lr"):
        parse_overrides(["lr=[0.1"], TOY)


def test_cells_ids_are_stable_and_distinct():
    grid, dataset, seeds = resolve_grid(TOY)
    cells = expand(TOY, grid, dataset, seeds)
    assert len(cells) == 4 and len({c.cell_id for c in cells}) == 4
    assert [c.cell_id for c in cells] == [c.cell_id for c in expand(TOY, grid, dataset, seeds)]
    # Widening the grid keeps the old cells' ids.
    wide = expand(TOY, {**grid, "lr": [0.1, 0.5, 1.0]}, dataset, seeds)
    assert {c.cell_id for c in cells} < {c.cell_id for c in wide}
    # The root seed is part of a cell's identity.
    assert not {c.cell_id for c in cells} & {c.cell_id for c in expand(TOY, grid, dataset, seeds, root_seed=1)}


def test_quick_and_seed_and_dataset_options():
    grid, dataset, seeds = resolve_grid(TOY, quick=True)
    assert grid["steps"] == [10] and seeds == 1 and dataset == "moons"
    assert resolve_grid(TOY, seeds=5)[2] == 5
    with pytest.raises(UserError, match="toy runs on moons, not 'mnist'"):
        resolve_grid(TOY, dataset="mnist")


def test_cell_ids_follow_the_data_bytes(tmp_path):
    exp = registry.get("optimizer_compare")
    path = points_npz(tmp_path / "pts.npz")

    def ids():
        grid, dataset, _ = resolve_grid(exp, parse_overrides(["optimizer=sgd"], exp), f"npz:{path}")
        return [c.cell_id for c in expand(exp, grid, dataset, 1)]

    before = ids()
    assert ids() == before
    points_npz(path, seed=1)  # same name, other data
    assert ids() != before

"""bench.plugins in process: an outside optimizer's arguments and source in grids and cell ids."""

import pytest

from bench import plugins, registry
from bench.errors import UserError
from bench.grid import expand, parse_overrides, resolve_grid
from tests.helpers import HALF_SGD


def test_optimizer_arguments_are_checked_before_any_cell(module_dir):
    exp = registry.get("optimizer_compare")
    with pytest.raises(UserError, match="unknown parameter 'scale'"):
        parse_overrides(["scale=0.5"], exp)  # no optimizer of the grid takes it
    assert parse_overrides(["optimizer=myopt:HalfSGD", "scale=0.5"], exp)["scale"] == [0.5]
    with pytest.raises(UserError, match="bad value for momentum"):
        parse_overrides(["optimizer=momentum", "momentum=abc"], exp)
    with pytest.raises(UserError, match="bad optimizer setting: .*momentum must be in"):
        resolve_grid(exp, parse_overrides(["optimizer=momentum", "momentum=1.5"], exp), "digits")


def test_cell_ids_follow_the_optimizers_source(module_dir):
    exp = registry.get("optimizer_compare")

    def ids():
        plugins._resolve.cache_clear()
        grid, dataset, seeds = resolve_grid(exp, parse_overrides(["optimizer=sgd,myopt:HalfSGD"], exp), "digits")
        return {c.params["optimizer"]: c.cell_id for c in expand(exp, grid, dataset, 1)}

    before = ids()
    assert ids() == before  # nothing changed: the same cells
    (module_dir / "myopt.py").write_text(HALF_SGD.replace("scale=0.5", "scale=0.4"))
    after = ids()
    assert after["sgd"] == before["sgd"] and after["myopt:HalfSGD"] != before["myopt:HalfSGD"]

"""bench.experiment: what an Experiment refuses to be built with."""

import pytest

import bench
from bench.params import Float


@pytest.mark.parametrize("grid", [{"n": [3]}, {"lr": [0.1], "dataset": ["x"]}, {"metric": ["loss"]}])
def test_a_parameter_may_not_take_a_table_column_name(grid):
    # The summary's n (finite values per setting) once silently replaced a parameter called n.
    with pytest.raises(ValueError, match="would collide with a column of the harness's tables"):
        bench.Experiment(name="x", description="", run=None, plot=None, grid=grid)


def test_every_colliding_and_every_undeclared_parameter_is_named():
    with pytest.raises(ValueError, match=r"^experiment x: parameter 'metric', 'n' would collide with a column"):
        bench.Experiment(name="x", description="", run=None, plot=None, grid={"n": [3], "metric": ["a"]})
    with pytest.raises(ValueError, match=r"^experiment x: declare a, b in params \(bench.params\)$"):
        bench.Experiment(name="x", description="", run=None, plot=None, grid={"b": [1], "a": [2]})


def test_a_default_outside_its_range_is_refused_with_the_parameter_named():
    refused = r"^experiment x: its own default is refused: bad value for lr: -1.0; lr takes a number >= 0$"
    with pytest.raises(ValueError, match=refused):
        bench.Experiment(name="x", description="", run=None, plot=None, grid={"lr": [-1.0]},
                         params={"lr": Float("learning rate", low=0)})

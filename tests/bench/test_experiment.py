"""bench.experiment: what an Experiment refuses to be built with."""

import pytest

import bench


@pytest.mark.parametrize("grid", [{"n": [3]}, {"lr": [0.1], "dataset": ["x"]}, {"metric": ["loss"]}])
def test_a_parameter_may_not_take_a_table_column_name(grid):
    # The summary's n (finite values per setting) once silently replaced a parameter called n.
    with pytest.raises(ValueError, match="would collide with a column of the harness's tables"):
        bench.Experiment(name="x", description="", run=None, plot=None, grid=grid)

"""bench.records: the recorder and divergence."""

import pytest

import bench


def test_recorder_raises_on_non_finite():
    rec = bench.Recorder()
    rec.log("loss", 1.0, 0)
    with pytest.raises(bench.Diverged) as info:
        rec.log("loss", float("inf"), 1)
    assert info.value.step == 1 and len(info.value.records.rows) == 2

"""bench.records: the recorder and divergence."""

import math

import pytest

import bench


def test_recorder_raises_on_non_finite():
    rec = bench.Recorder()
    rec.log("loss", 1.0, 0)
    with pytest.raises(bench.Diverged) as info:
        rec.log("loss", float("inf"), 1)
    assert info.value.step == 1 and len(info.value.records.rows) == 2


def test_recorder_keeps_rows_used_values_and_artifacts_as_given():
    rec = bench.Recorder()
    rec.log("acc", 0.5, 3, epoch=0.25)
    rec.log("acc", 1, 4)
    rec.use("lr", 0.01)
    model = object()
    rec.save("model", model)
    assert rec.rows == [(3, 0.25, "acc", 0.5), (4, rec.rows[1][1], "acc", 1.0)] and math.isnan(rec.rows[1][1])
    assert rec.used == {"lr": 0.01} and rec.artifacts == {"model": model}
    assert bench.Recorder().artifacts == {} and bench.Recorder().used == {}


def test_divergence_says_which_metric_and_when():
    rec = bench.Recorder()
    with pytest.raises(bench.Diverged, match="^val_loss became non-finite at step 7$") as info:
        rec.log("val_loss", float("nan"), 7)
    assert info.value.metric == "val_loss" and info.value.records is rec

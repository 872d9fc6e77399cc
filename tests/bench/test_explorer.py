"""bench.explorer: the interactive report's data, one offline file in which markup stays text."""

import json
import re

import numpy as np
import pandas as pd
import pytest

import bench
from bench import explorer, registry
from bench.compare import compare_runs
from bench.errors import UserError
from bench.records import ACCURACY, LOSS
from tests.helpers import PLANTED, data_of
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)


def test_one_file_that_opens_offline(results):
    page = (results / "report.html").read_text()
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)  # the page around its scripts
    assert not re.search(r"\bsrc=|<link|https?:", markup) and page.count("<script") == 3  # nothing fetched
    assert len(page) < 2_000_000
    data = data_of(page)
    (toy,) = data["experiments"]
    assert [r["name"] for r in toy["runs"]] == ["fast", "slow"]
    fast = toy["runs"][0]
    # Failed cells have no curves: only lr is told apart.
    assert fast["params"] == ["lr"] and fast["manifest"]["cells"] == {"ok": 6, "failed": 6}
    assert {c["metric"] for c in fast["curves"]} == {"loss", "accuracy"}
    assert toy["runs"][1]["figures"] == ["toy/slow/figures/loss.png"]


def test_planted_markup_stays_text(results):
    page = (results / "report.html").read_text()
    assert PLANTED not in page and "window.pwned" in page  # escaped inside the JSON, not absent
    data = data_of(page)
    fast = data["experiments"][0]["runs"][0]["manifest"]
    assert fast["headline"] == PLANTED and fast["failed"][0]["message"] == PLANTED


def test_comparisons_are_those_of_compare(results):
    data = data_of((results / "report.html").read_text())
    shown = data["experiments"][0]["compare"]["slow\nfast"]
    table = compare_runs(str(results / "toy/slow"), str(results / "toy/fast"), metrics=TOY.metrics).table
    assert len(shown["rows"]) == len(table)
    assert [r["mark"] for r in shown["rows"]] == table["verdict"].tolist()
    assert shown["differs"] == {}  # lr=0.5 is in both: matched on it


def test_long_curves_are_thinned(tmp_path):
    bench.run("toy", seeds=1, results_dir=tmp_path, progress=False, jobs=1, overrides={"steps": [3000]},
              figures=False)
    (run,) = explorer.collect(tmp_path)["experiments"][0]["runs"]
    points = sum(len(c["step"]) for c in run["curves"])
    assert points <= explorer.POINTS_PER_RUN + 2 * len(run["curves"])
    loss = next(c for c in run["curves"] if c["metric"] == "loss")
    assert loss["step"][0] == 0 and loss["step"][-1] == 2999  # the ends are kept


def test_thin_keeps_evenly_spaced_steps_with_both_ends():
    assert explorer._thin(np.arange(5), 5).tolist() == [0, 1, 2, 3, 4]
    assert explorer._thin(np.arange(10), 4).tolist() == [0, 3, 6, 9]
    assert explorer._thin(np.arange(8), 3).tolist() == [0, 4, 7]  # 3.5 rounds to the even 4


def test_plain_and_num_give_what_json_carries():
    values = [np.int64(3), np.float32(0.5), float("nan"), np.float64("inf"), True, 7, "x", None, (1, 2)]
    plain = [explorer._plain(v) for v in values]
    assert plain == [3, 0.5, None, None, True, 7, "x", None, "(1, 2)"]
    assert [type(v) for v in plain[:2]] == [int, float]
    assert explorer._num(0.123456789) == 0.12346 and explorer._num(123456789.0) == 123460000.0
    assert explorer._num(float("nan")) is None and explorer._num(float("-inf")) is None


def _tidy(rows):
    """Records of (cell_id, seed, lr, act, step, metric, value)."""
    return pd.DataFrame([{"experiment": "toy", "cell_id": c, "seed": s, "lr": lr, "act": act, "step": step,
                          "epoch": 0.0, "metric": m, "value": v} for c, s, lr, act, step, m, v in rows])


def test_swept_names_the_parameters_with_more_than_one_value_a_missing_one_counting():
    records = _tidy([("a", 0, 0.1, "relu", 0, "loss", 1.0), ("b", 0, 0.2, "relu", 0, "loss", 1.0),
                     ("c", 0, 0.2, None, 0, "loss", 1.0), ("c", 0, 0.2, None, 1, "loss", 1.0)])
    assert explorer.swept(records) == ["lr", "act"]
    assert explorer.swept(records[records["cell_id"] != "c"]) == ["lr"]


def test_curves_by_hand():
    nan = float("nan")
    records = _tidy([("b0", 0, 0.5, "relu", 0, "loss", 2.0), ("b1", 1, 0.5, "relu", 0, "loss", 1.0),
                     ("b0", 0, 0.5, "relu", 1, "loss", 1.0), ("b1", 1, 0.5, "relu", 1, "loss", 0.5),
                     ("a0", 0, 0.1, "relu", 0, "loss", 3.0), ("a1", 1, 0.1, "relu", 0, "loss", nan),
                     ("a0", 0, 0.1, "relu", 0, "acc", 0.123456789), ("a1", 1, 0.1, "relu", 0, "acc", nan),
                     ("b0", 0, 0.5, "relu", 0, "acc", 0.5), ("b1", 1, 0.5, "relu", 0, "acc", 0.7)])
    keys, series = explorer.curves(records)
    assert keys == ["lr"]
    assert [(s["metric"], s["setting"]) for s in series] == [("loss", {"lr": 0.5}), ("loss", {"lr": 0.1}),
                                                              ("acc", {"lr": 0.1}), ("acc", {"lr": 0.5})]
    assert series[0] == {"metric": "loss", "setting": {"lr": 0.5}, "step": [0, 1], "mean": [1.5, 0.75],
                         "low": [None, None], "high": [None, None], "seeds": {"0": [2.0, 1.0], "1": [1.0, 0.5]}}
    assert series[1]["seeds"] == {"0": [3.0]} and series[1]["mean"] == [3.0]  # a seed without values is left out
    assert series[2]["mean"] == [0.12346] and series[2]["seeds"] == {"0": [0.12346]}
    assert all(type(v) is int for s in series for v in s["step"])
    unswept = explorer.curves(records[records["lr"] == 0.5])
    assert unswept[0] == [] and [(s["metric"], s["setting"]) for s in unswept[1]] == [("loss", {}), ("acc", {})]
    assert unswept[1][0]["mean"] == [1.5, 0.75]


def test_curves_share_the_points_per_run_between_series_but_keep_a_minimum(monkeypatch):
    rows = [(f"{lr}", 0, lr, "relu", step, "loss", 1.0) for lr in (0.1, 0.2) for step in range(100)]
    monkeypatch.setattr(explorer, "POINTS_PER_RUN", 60)
    assert [len(s["step"]) for s in explorer.curves(_tidy(rows))[1]] == [30, 30]
    assert explorer.curves(_tidy(rows))[1][0]["step"][-1] == 99
    monkeypatch.setattr(explorer, "POINTS_PER_RUN", 10)
    assert [len(s["step"]) for s in explorer.curves(_tidy(rows))[1]] == [12, 12]  # MIN_POINTS_PER_CURVE
    monkeypatch.setattr(explorer, "POINTS_PER_RUN", 60)
    one = [r for r in rows if r[2] == 0.1]
    assert [len(s["step"]) for s in explorer.curves(_tidy(one))[1]] == [60]  # one series takes them all


def test_manifest_view_by_hand():
    manifest = {"config": {"grid": {"lr": [0.1, 0.5], "act": "relu"}, "dataset": "moons", "seeds": 3, "quick": 1,
                           "root_seed": 7, "version": 2, "parallel": {"jobs": 2}},
                "data": {"sha256": "ab"}, "code_version": "abc", "started": "2026-12-01 10:00:00",
                "machine": {"cpu_count": 2}, "packages": {"numpy": "2.0"}, "plugins": {},
                "headline": "sgd wins",
                "cells": {"c1": {"status": "ok"}, "c2": {"status": "failed", "params": {"lr": 0.5}, "seed": np.int64(1),
                                                         "message": "boom"}, "c3": {"status": "diverged"}}}
    assert explorer.manifest_view(manifest) == {
        "settings": {"lr": "[0.1, 0.5]", "act": '"relu"'},
        "fields": {"data set": "moons", "data set content": '{"sha256": "ab"}', "seeds": 3, "quick": True,
                   "root seed": 7, "experiment version": 2, "parallel": {"jobs": 2}, "code": "abc",
                   "started": "2026-12-01 10:00:00", "finished": "running or stopped",
                   "machine": '{"cpu_count": 2}', "packages": '{"numpy": "2.0"}', "plugins": "{}"},
        "cells": {"ok": 1, "failed": 1, "diverged": 1},
        "failed": [{"params": '{"lr": 0.5}', "seed": 1, "message": "boom"}], "headline": "sgd wins"}
    bare = explorer.manifest_view({"finished": "2026-12-01 11:00:00"})
    assert bare["fields"]["finished"] == "2026-12-01 11:00:00" and bare["fields"]["quick"] is False
    assert bare["fields"]["data set content"] == '"not recorded"' and bare["fields"]["machine"] == "{}"
    assert bare["settings"] == {} and bare["cells"] == {} and bare["failed"] == [] and bare["headline"] == ""
    odd = explorer.manifest_view({"cells": {"c": {"status": "failed"}}, "machine": {"when": {1, 2}}})
    assert odd["failed"] == [{"params": "{}", "seed": None, "message": ""}]
    assert odd["fields"]["machine"] == '{"when": "{1, 2}"}'  # what JSON cannot carry, as text


def _summary(lr, means, n=3, std=0.01):
    return pd.DataFrame({"lr": lr, "metric": "acc", "mean": means, "std": std, "n": n, "n_diverged": 0})


def test_comparisons_of_every_ordered_pair_with_settings_and_marks():
    summaries = {"a": _summary([0.1, 0.2], [0.9, 0.8]), "b": _summary([0.1, 0.2], [0.5, 0.8]),
                 "c": _summary([0.1, 0.2], [0.9, 0.8]).assign(metric="loss")}
    out = explorer._comparisons(["a", "b", "c"], summaries, {"acc": ACCURACY, "loss": LOSS})
    assert sorted(out) == ["a\nb", "a\nc", "b\na", "b\nc", "c\na", "c\nb"]
    rows = out["a\nb"]["rows"]
    assert [(r["setting"], r["metric"], r["mark"]) for r in rows] == [("lr=0.1", "acc", "regression"),
                                                                      ("lr=0.2", "acc", "inconclusive")]
    assert rows[0]["mean_a"] == 0.9 and rows[0]["mean_b"] == 0.5 and rows[0]["n_a"] == 3
    assert rows[0]["diff"] == pytest.approx(-0.4) and set(rows[0]) == {
        "setting", "metric", "mark", "mean_a", "mean_b", "diff", "ci95_welch_low", "ci95_welch_high", "n_a", "n_b",
        "n_diverged_a", "n_diverged_b", "p", "p_bh", "margin", "p_equivalent", "detectable"}
    assert out["b\na"]["rows"][0]["mark"] == "improvement" and out["a\nb"]["differs"] == {}
    assert set(out["a\nc"]) == {"error"} and out["a\nc"]["error"]
    single = explorer._comparisons(["a", "b"], {"a": _summary([0.1], [0.9]), "b": _summary([0.1], [0.9])},
                                   {"acc": ACCURACY})
    assert single["a\nb"]["rows"][0]["setting"] == "(all)"


def test_script_json_cannot_close_its_script_element():
    text = explorer._script_json({"k": "</script><b>&amp;"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"k": "</script><b>&amp;"} and text.startswith('{"k":')
    with pytest.raises(ValueError):
        explorer._script_json({"k": float("nan")})


def test_collect_picks_experiments_and_runs_and_says_what_is_missing(results, tmp_path):
    everything = explorer.collect(results)
    assert [e["name"] for e in everything["experiments"]] == ["toy"] and everything["damaged"] == []
    assert everything["nnbench"] == bench.provenance.nnbench_version()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", everything["generated"])
    assert everything["experiments"][0]["description"] == TOY.description
    only = explorer.collect(results, names=["toy"], run="slow")
    assert [r["name"] for r in only["experiments"][0]["runs"]] == ["slow"]
    assert only["experiments"][0]["compare"] == {}
    with pytest.raises(UserError, match=rf"^no runs of toy named 'nope' under {re.escape(str(results))}: run an"):
        explorer.collect(results, names=["toy"], run="nope")
    with pytest.raises(UserError, match=r"^no runs under .*: run an experiment first \(`python -m bench run NAME`\)$"):
        explorer.collect(tmp_path / "absent")
    (tmp_path / "not_an_experiment" / "r").mkdir(parents=True)
    with pytest.raises(UserError, match="^no runs under"):
        explorer.collect(tmp_path)


def test_collect_lists_a_damaged_run_and_fails_only_when_every_run_is(results, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(results, root)
    (root / "toy" / "slow" / "records.parquet").write_bytes(b"not parquet")
    data = explorer.collect(root)
    runs = data["experiments"][0]["runs"]
    assert [r["name"] for r in runs] == ["fast", "slow"] and set(runs[1]) == {"name", "error"}
    assert data["damaged"] == [runs[1]["error"]] and "slow" in runs[1]["error"]
    (root / "toy" / "fast" / "manifest.json").write_text("{")
    with pytest.raises(UserError, match=r"\(and 1 more damaged runs\)$"):
        explorer.collect(root)
    with pytest.raises(UserError) as one:
        explorer.collect(root, run="slow")
    assert "more damaged" not in str(one.value)


def test_curves_cut_their_band_at_the_metrics_range_and_leave_a_diverged_seed_out_of_the_mean():
    rows = [(f"c{s}", s, 0.1, "relu", 0, "acc", v) for s, v in enumerate([0.9, 0.95, 1.0, 0.99, 0.97])]
    rows += [("c5", 5, 0.1, "relu", 0, "acc", 0.1), ("c5", 5, 0.1, "relu", 1, "diverged_at", 1.0)]
    _, series = explorer.curves(_tidy(rows), {"acc": (0.0, 1.0)})
    acc = next(s for s in series if s["metric"] == "acc")
    assert acc["mean"] == [pytest.approx(0.962)] and acc["high"] == [1.0] and acc["low"][0] < 0.962
    assert acc["seeds"]["5"] == [0.1]  # drawn, but not averaged
    _, unbounded = explorer.curves(_tidy(rows))
    assert next(s for s in unbounded if s["metric"] == "acc")["high"][0] > 1.0

"""bench.explorer: the interactive report's data, one offline file in which markup stays text."""

import re

import bench
from bench import explorer, registry
from bench.compare import compare_runs
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
    table = compare_runs(str(results / "toy/slow"), str(results / "toy/fast"), directions=TOY.metrics).table
    assert len(shown["rows"]) == len(table)
    assert [r["mark"] == "regression" for r in shown["rows"]] == table["regression"].tolist()
    assert shown["differs"] == {}  # lr=0.5 is in both: matched on it


def test_long_curves_are_thinned(tmp_path):
    bench.run("toy", seeds=1, results_dir=tmp_path, progress=False, jobs=1, overrides={"steps": [3000]},
              figures=False)
    (run,) = explorer.collect(tmp_path)["experiments"][0]["runs"]
    points = sum(len(c["step"]) for c in run["curves"])
    assert points <= explorer.POINTS_PER_RUN + 2 * len(run["curves"])
    loss = next(c for c in run["curves"] if c["metric"] == "loss")
    assert loss["step"][0] == 0 and loss["step"][-1] == 2999  # the ends are kept

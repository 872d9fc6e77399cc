"""The interactive report (bench.explorer): one offline file, data that stays data, and, in a real
browser (Chromium driven by selenium; CI installs both from Debian), charts that render and answer."""

import json
import os
import re
import shutil
import time

import pytest

import bench
from bench import explorer, registry
from bench.compare import compare_runs
from tests.helpers import run_cli
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)

PLANTED = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(not CHROMEDRIVER and not os.environ.get("CI"),
                                   reason="apt-get install chromium chromium-driver (CI installs them)")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Two toy runs that differ in lr, one with a failed cell whose message and a setting carry markup."""
    root = tmp_path_factory.mktemp("results")
    bench.run("toy", run="slow", seeds=3, results_dir=root, progress=False, jobs=1, figures=True)
    bench.run("toy", run="fast", seeds=3, results_dir=root, progress=False, jobs=1,
              overrides={"lr": [0.5, 1.5], "mode": ["ok", "fail"]})
    path = root / "toy" / "fast" / "manifest.json"
    manifest = json.loads(path.read_text())
    failed = next(c for c in manifest["cells"].values() if c["status"] == "failed")
    failed["message"] = PLANTED
    manifest["headline"] = PLANTED
    path.write_text(json.dumps(manifest))
    explorer.write_page(root)
    return root


def data_of(page):
    raw = re.search(r'<script type="application/json" id="nnbench-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(raw)


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


def test_cli_selects_and_refuses(results, tmp_path):
    shutil.copytree(results, tmp_path / "results")
    ok = run_cli("report", "--html", "--experiment", "toy", "--run", "slow", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    (toy,) = data_of((tmp_path / "results/report.html").read_text())["experiments"]
    assert [r["name"] for r in toy["runs"]] == ["slow"]
    unknown = run_cli("report", "--html", "--experiment", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown experiment 'nope'" in unknown.stderr
    none = run_cli("report", "--html", "--run", "absent", cwd=tmp_path)
    assert none.returncode == 2 and "no runs named 'absent'" in none.stderr
    # One damaged run among good ones: the page is written, the run listed with its problem.
    (tmp_path / "results/toy/slow/summary.parquet").write_bytes(b"")
    partly = run_cli("report", "--html", cwd=tmp_path)
    assert partly.returncode == 0 and "skipped a damaged run:" in partly.stderr and "cannot read" in partly.stderr
    (toy,) = data_of((tmp_path / "results/report.html").read_text())["experiments"]
    assert "cannot read its tables" in next(r for r in toy["runs"] if r["name"] == "slow")["error"]


# -- in a real browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or "/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the page did not get there in time")


def chart(driver, selector="#chart"):
    return driver.execute_script(f"const s = document.querySelector('{selector} svg'); return s ? s.outerHTML : ''")


def marks(driver, selector):
    css = f"{selector} svg .mark-line path, {selector} svg .mark-symbol path"
    return len(driver.find_elements("css selector", css))


@needs_browser
def test_in_a_browser_the_charts_render_and_answer(results, browser):
    from selenium.webdriver.support.ui import Select

    browser.get((results / "report.html").as_uri())
    wait_for(browser, lambda: marks(browser, "#chart"))
    first = chart(browser)
    Select(browser.find_element("id", "metric")).select_by_visible_text("accuracy")
    wait_for(browser, lambda: chart(browser) != first)
    assert "accuracy" in chart(browser)  # the y axis is titled with the metric
    one_run = chart(browser)
    browser.find_element("css selector", "#runs input[value='slow']").click()  # overlay the second run
    wait_for(browser, lambda: chart(browser) != one_run and "slow" in chart(browser) and "fast" in chart(browser))
    overlaid = chart(browser)
    Select(browser.find_element("css selector", "select[data-param='lr']")).select_by_visible_text("1.5")
    wait_for(browser, lambda: chart(browser) != overlaid)
    assert "lr=0.5" not in chart(browser) and "lr=1.5" in chart(browser)

    # The compare view: the rows and marks of bench.compare for run A = slow, run B = fast.
    Select(browser.find_element("id", "run-a")).select_by_visible_text("slow")
    Select(browser.find_element("id", "run-b")).select_by_visible_text("fast")
    wait_for(browser, lambda: marks(browser, "#compare-chart"))
    rows = browser.find_elements("css selector", "#compare-table tr[data-mark]")
    table = compare_runs(str(results / "toy/slow"), str(results / "toy/fast"), directions=TOY.metrics).table
    assert len(rows) == len(table)
    expected = ["regression" if r else ("significant" if s else "no difference")
                for r, s in zip(table["regression"], table["significant"])]
    assert [r.get_attribute("data-mark") for r in rows] == expected

    # Planted markup in a manifest is shown as text and runs nothing.
    assert browser.execute_script("return window.pwned === undefined")
    assert PLANTED in browser.find_element("id", "manifests").text
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert not errors, errors

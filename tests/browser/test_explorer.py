"""The interactive report in a real browser (Chromium driven by selenium): charts render and answer."""

import os
import shutil
import time

import pytest

from bench import registry
from bench.compare import compare_runs
from tests.helpers import PLANTED
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)


CHROMEDRIVER = shutil.which("chromedriver")


needs_browser = pytest.mark.skipif(not CHROMEDRIVER and not os.environ.get("CI"),
                                   reason="apt-get install chromium chromium-driver (CI installs them)")


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
    table = compare_runs(str(results / "toy/slow"), str(results / "toy/fast"), metrics=TOY.metrics).table
    assert len(rows) == len(table)
    assert [r.get_attribute("data-mark") for r in rows] == table["verdict"].tolist()

    # Planted markup in a manifest is shown as text and runs nothing.
    assert browser.execute_script("return window.pwned === undefined")
    assert PLANTED in browser.find_element("id", "manifests").text
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert not errors, errors

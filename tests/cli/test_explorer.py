"""`report --html` through the CLI: selecting experiments and runs, refusals, damaged runs."""

import shutil

from bench import registry
from tests.helpers import data_of, run_cli
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)


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

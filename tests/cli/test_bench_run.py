"""The harness end to end on the toy experiment: CLI subprocesses where processes matter."""

import json
import os
import signal
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bench
from bench import registry
from bench.records import RESERVED_NAMES, SUMMARY_COLUMNS, TUNING_COLUMNS
from tests.helpers import bench_cmd, cli_env, run_cli, wait_for_cells
from tests.toy_experiment import EXPERIMENT as TOY

registry.register(TOY)


def records(folder):
    return pd.read_parquet(folder / "records.parquet")


def test_jobs_1_and_jobs_2_give_identical_tables(tmp_path):
    a = run_cli("run", "toy", "--jobs", "1", "--run", "a", cwd=tmp_path)
    b = run_cli("run", "toy", "--jobs", "2", "--run", "b", cwd=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ra, rb = records(tmp_path / "results/toy/a"), records(tmp_path / "results/toy/b")
    assert len(ra) == 4 * 31
    pd.testing.assert_frame_equal(ra, rb)
    sa = pd.read_parquet(tmp_path / "results/toy/a/summary.parquet")
    pd.testing.assert_frame_equal(sa, pd.read_parquet(tmp_path / "results/toy/b/summary.parquet"))


def test_tidy_tables_summary_and_manifest(tmp_path):
    result = bench.run("toy", seeds=3, results_dir=tmp_path, progress=False, jobs=1)
    r = result.records
    assert list(r.columns) == ["experiment", "cell_id", "seed", "lr", "hidden", "steps", "mode", "sleep",
                               "dataset", "step", "epoch", "metric", "value"]
    # The names Experiment refuses as parameters are exactly the tables' own columns.
    assert list(result.summary.columns) == ["lr", "hidden", "steps", "mode", "sleep", "dataset", "metric",
                                            *SUMMARY_COLUMNS]
    # ... and the two a tuned experiment's tables add (tests/bench/test_tuning.py).
    assert RESERVED_NAMES == {*r.columns, *result.summary.columns, *TUNING_COLUMNS} - set(TOY.grid)
    assert set(r["metric"]) == {"loss", "accuracy"} and r.groupby("cell_id").size().eq(31).all()
    s = result.summary
    acc = s[(s["metric"] == "accuracy") & (s["lr"] == 0.5)].iloc[0]
    finals = r[(r["metric"] == "accuracy") & (r["lr"] == 0.5)]["value"]
    assert acc["n"] == 3 and acc["mean"] == pytest.approx(finals.mean())
    # Student's t interval of the mean of three seeds.
    half = stats.t.ppf(0.975, 2) * finals.std() / np.sqrt(3)
    assert (acc["ci95_low"], acc["ci95_high"]) == (pytest.approx(acc["mean"] - half), pytest.approx(acc["mean"] + half))
    assert finals.min() == acc["min"] <= acc["mean"] <= acc["max"]
    assert 0 <= acc["min"] and acc["max"] <= 1
    assert (result.path / "summary.csv").read_text().startswith("lr,hidden,steps,mode,sleep,dataset,metric,mean")
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["config"]["grid"]["lr"] == [0.1, 0.5] and manifest["config"]["seeds"] == 3
    assert {"numpy", "pandas", "python"} <= set(manifest["packages"]) and manifest["machine"]["cpu_count"]
    assert all(c["status"] == "ok" and c["wall_time"] > 0 for c in manifest["cells"].values())
    assert (tmp_path / "toy" / "latest").read_text().strip() == "moons"
    assert {p.name for p in (result.path / "figures").iterdir()} == {"loss.png", "loss.svg"}
    loaded = bench.load("toy", results_dir=tmp_path)
    pd.testing.assert_frame_equal(loaded.records, r)


def test_diverged_and_failed_cells_are_recorded_and_the_grid_completes(tmp_path):
    proc = run_cli("run", "toy", "--set", "mode=ok,fail,diverge", "--set", "lr=0.1", "--jobs", "2", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    folder = tmp_path / "results/toy/moons"
    cells = json.loads((folder / "manifest.json").read_text())["cells"]
    by_mode = {}
    for c in cells.values():
        by_mode.setdefault(c["params"]["mode"], []).append(c)
    assert [c["status"] for c in by_mode["ok"]] == ["ok", "ok"]
    assert all(c["status"] == "failed" and "boom on purpose" in c["message"] for c in by_mode["fail"])
    assert all(c["status"] == "diverged" and c["step"] == 3 for c in by_mode["diverge"])
    r = records(folder)
    diverged = r[r["mode"] == "diverge"]
    assert set(diverged["metric"]) == {"loss", "diverged_at"} and diverged["step"].max() == 3
    summary = pd.read_parquet(folder / "summary.parquet")
    assert summary[(summary["mode"] == "diverge") & (summary["metric"] == "loss")]["n_diverged"].iloc[0] == 2
    # --fail-fast stops the grid at the first failure.
    fast = run_cli("run", "toy", "--set", "mode=fail", "--run", "ff", "--jobs", "1", "--fail-fast", cwd=tmp_path)
    assert fast.returncode == 1 and "fail-fast" in fast.stderr
    statuses = [c["status"] for c in json.loads((tmp_path / "results/toy/ff/manifest.json").read_text())["cells"]
                .values()]
    assert statuses.count("failed") == 1 and statuses.count("pending") == 3


def test_resume_after_kill_9_equals_an_uninterrupted_run(tmp_path):
    args = ["run", "toy", "--set", "sleep=0.02", "--set", "lr=0.1,0.3,0.5", "--seeds", "2", "--jobs", "2"]
    proc = subprocess.Popen(bench_cmd(*args), cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    cells_dir = tmp_path / "results/toy/moons/cells"
    wait_for_cells(cells_dir, 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.stem for p in cells_dir.glob("*.json")}
    assert 2 <= len(done_before) < 6, "the kill should land mid-grid"
    # Nothing partial is visible under a final name: every status has its complete table.
    for status in cells_dir.glob("*.json"):
        json.loads(status.read_text())
        pd.read_parquet(status.with_suffix(".parquet"))
    assert not (tmp_path / "results/toy/moons/records.parquet").exists()

    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"{len(done_before)} already done, running {6 - len(done_before)}" in again.stderr
    assert not [p for p in cells_dir.iterdir() if p.name.startswith(".")]
    assert run_cli(*args, "--run", "whole", cwd=tmp_path).returncode == 0
    resumed, uninterrupted = records(tmp_path / "results/toy/moons"), records(tmp_path / "results/toy/whole")
    assert resumed["cell_id"].nunique() == 6
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def test_widened_grid_runs_only_new_cells_and_force_reruns(tmp_path):
    logs = []
    bench.run("toy", overrides={"lr": 0.1}, results_dir=tmp_path, progress=False, jobs=1, log=logs.append)
    bench.run("toy", overrides={"lr": [0.1, 0.5]}, results_dir=tmp_path, progress=False, jobs=1, log=logs.append)
    bench.run("toy", overrides={"lr": [0.1, 0.5]}, results_dir=tmp_path, progress=False, jobs=1, force=True,
              log=logs.append)
    assert [line.split(" -> ")[0] for line in logs] == [
        "toy: 2 cells, 0 already done, running 2",
        "toy: 4 cells, 2 already done, running 2",
        "toy: 4 cells, 0 already done, running 4"]


def test_a_finished_grid_reruns_without_reading_a_cell_until_something_changes(tmp_path, monkeypatch):
    from bench.store import RunStore

    def run(**options):
        logs = []
        result = bench.run("toy", results_dir=tmp_path, progress=False, jobs=1, log=logs.append, **options)
        return result, " | ".join(line.split(" -> ")[0] for line in logs)

    first, _ = run(figures=False)
    again, line = run(figures=False)
    assert line == "toy: all 4 cells done and unchanged since the tables were built: nothing to do"
    pd.testing.assert_frame_equal(again.records, first.records)
    # Figures asked for now, not drawn then: the tables are rebuilt and the figures drawn.
    drawn, line = run()
    assert line == "toy: 4 cells, 4 already done, running 0" and drawn.manifest["figures"] == ["loss"]
    with monkeypatch.context() as m:  # up to date again: no cell is read
        m.setattr(RunStore, "read_cell", lambda self, cell_id: pytest.fail("a cell was read"))
        m.setattr(RunStore, "check_cell", lambda self, cell_id: pytest.fail("a cell was checked"))
        _, line = run()
    assert "nothing to do" in line
    # A cell whose files changed since (damaged, or written by another run): checked, computed again.
    cell_id = first.records["cell_id"].iloc[0]
    (tmp_path / "toy/moons/cells" / f"{cell_id}.parquet").write_bytes(b"PAR1 damaged")
    json_path = tmp_path / "toy/moons/cells" / f"{cell_id}.json"
    json_path.write_text(json_path.read_text())  # rewritten: another size or time
    repaired, line = run()
    assert line.endswith("records file does not match its checksum; computing it again | "
                         "toy: 4 cells, 3 already done, running 1")
    pd.testing.assert_frame_equal(repaired.records, first.records)


@pytest.mark.parametrize("args, message", [
    (["run", "nope"], "unknown experiment 'nope': known experiments are"),
    (["run", "toy", "--set", "lrr=1"], "unknown parameter 'lrr' for toy: valid parameters are lr, hidden"),
    (["run", "toy", "--set", "lr=[0.1"], "bad value for lr"),
    (["run", "toy", "--set", "lr"], "malformed override 'lr'"),
    (["run", "toy", "--dataset", "mnist"], "toy runs on moons, not 'mnist'"),
    (["run", "toy", "--jobs", "0"], "--jobs must be a whole number from 1 to"),
    (["run", "optimizer_compare", "--set", "lr=abc"], 'bad value for lr: "abc"; lr takes a number > 0, or null'),
    (["run", "toy", "--seeds", "0"], "--seeds must be a whole number from 1 to 1,000, got 0"),
    (["run", "toy", "--results", "/proc/nnbench"], "cannot write results to /proc/nnbench"),
    (["report", "toy"], "no runs of toy under"),
    (["compare", "toy", "toy"], "no runs of toy under"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, args, message):
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_run_folder_of_another_grid_is_refused(tmp_path):
    assert run_cli("run", "toy", "--quick", "--run", "r", cwd=tmp_path).returncode == 0
    proc = run_cli("run", "toy", "--quick", "--run", "r", "--root-seed", "7", cwd=tmp_path)
    assert proc.returncode == 2 and "holds another run: root_seed 0 (asked 7)" in proc.stderr


def test_report_refuses_a_run_made_by_another_version(tmp_path):
    assert run_cli("run", "toy", "--quick", "--run", "r", cwd=tmp_path).returncode == 0
    manifest = tmp_path / "results/toy/r/manifest.json"
    old = json.loads(manifest.read_text())
    old["config"]["version"] = TOY.version - 1
    manifest.write_text(json.dumps(old))
    proc = run_cli("report", "toy", "--run", "r", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"was made by version {TOY.version - 1} of toy" in proc.stderr and "again with --force" in proc.stderr


def test_list_report_html_and_compare(tmp_path):
    listing = run_cli("list", cwd=tmp_path)
    assert listing.returncode == 0 and any(line.split()[:2] == ["toy", "4"] for line in listing.stdout.splitlines())
    assert run_cli("run", "toy", "--quick", cwd=tmp_path).returncode == 0
    figures = tmp_path / "results/toy/moons-quick/figures"
    for f in figures.iterdir():
        f.unlink()
    rep = run_cli("report", "toy", cwd=tmp_path)
    assert rep.returncode == 0 and (figures / "loss.png").stat().st_size > 1000 and (figures / "loss.svg").exists()
    html = run_cli("report", "--html", cwd=tmp_path)
    page = (tmp_path / "results/report.html").read_text()
    assert html.returncode == 0 and 'id="nnbench-data"' in page and "toy/moons-quick/figures/loss.png" in page
    assert run_cli("run", "toy", "--quick", "--run", "other", "--root-seed", "3", cwd=tmp_path).returncode == 0
    cmp = run_cli("compare", "toy/moons-quick", "toy/other", "--fail-on-regression", cwd=tmp_path)
    # One seed a side: nothing is shown changed or equivalent, whatever the numbers.
    last = cmp.stdout.splitlines()[-1]
    assert cmp.returncode == 0 and last.startswith("0 regression, 0 improvement, 0 different, 0 equivalent, ")
    check = run_cli("compare", "toy/moons-quick", "toy/other", "--fail-on-inconclusive", cwd=tmp_path)
    assert check.returncode == 1 and check.stdout.splitlines()[-1] == last


def test_a_grid_that_would_drop_stored_cells_is_refused(tmp_path):
    assert run_cli("run", "toy", "--seeds", "2", cwd=tmp_path).returncode == 0
    fewer = run_cli("run", "toy", "--seeds", "1", cwd=tmp_path)
    assert fewer.returncode == 2 and "holds 2 cells that this grid does not" in fewer.stderr
    assert "--run NAME" in fewer.stderr and "Traceback" not in fewer.stderr
    assert records(tmp_path / "results/toy/moons")["cell_id"].nunique() == 4  # untouched
    more = run_cli("run", "toy", "--seeds", "3", cwd=tmp_path)  # a superset resumes: 2 new cells
    assert more.returncode == 0 and "4 already done, running 2" in more.stderr
    assert records(tmp_path / "results/toy/moons")["cell_id"].nunique() == 6
    forced = run_cli("run", "toy", "--seeds", "1", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and records(tmp_path / "results/toy/moons")["cell_id"].nunique() == 2


def test_html_report_covers_every_run_and_marks_quick_runs(tmp_path):
    from tests.helpers import data_of

    assert run_cli("run", "toy", "--quick", "--run", "first", cwd=tmp_path).returncode == 0
    assert run_cli("run", "toy", "--seeds", "1", "--run", "second", cwd=tmp_path).returncode == 0
    assert run_cli("report", "--html", cwd=tmp_path).returncode == 0
    (toy,) = data_of((tmp_path / "results/report.html").read_text())["experiments"]
    quick = {r["name"]: r["manifest"]["fields"]["quick"] for r in toy["runs"]}
    assert quick == {"first": True, "second": False}


def test_runs_lists_every_run_with_what_differs_from_the_defaults(tmp_path):
    assert run_cli("run", "toy", "--quick", cwd=tmp_path).returncode == 0
    assert run_cli("run", "toy", "--set", "lr=0.3", "--seeds", "1", "--run", "fast", cwd=tmp_path).returncode == 0
    (tmp_path / "results/toy/broken").mkdir()
    (tmp_path / "results/toy/broken/manifest.json").write_text("{")
    listed = run_cli("runs", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    fast = next(line for line in lines if " fast " in line)
    quick = next(line for line in lines if "moons-quick" in line)
    assert "lr=0.3 seeds=1" in fast and "1 ok" in fast and " quick " not in fast
    assert "defaults" in quick and " quick " in quick and "2 ok" in quick
    assert any("broken" in line and "damaged manifest" in line for line in lines)
    assert lines.index(fast) < lines.index(quick)  # newest first
    assert run_cli("runs", "--experiment", "nope", cwd=tmp_path).returncode == 2
    assert "no results folder" in run_cli("runs", cwd=tmp_path / "results/toy").stderr

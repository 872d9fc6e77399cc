"""Outside optimizers, experiments and data sets through the CLI: by module:attr, entry points, npz and idx."""

import json
import os
import subprocess
import textwrap

import pandas as pd
import pytest

from tests.helpers import HALF_SGD, ROOT, bench_cmd, fake_distribution, points_npz

QUICK = ["run", "optimizer_compare", "--quick", "--dataset", "digits", "--seeds", "1", "--set", "iterations=20",
         "--set", "eval_every=10", "--no-progress"]


def cli(*args, cwd, extra_path=()):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *map(str, extra_path), env.get("PYTHONPATH", "")])
    env.pop("NNBENCH_RESULTS", None)
    env.pop("NNBENCH_EXPERIMENTS", None)
    return subprocess.run(bench_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_an_optimizer_named_module_attr_runs_beside_the_builtins(module_dir):
    proc = cli(*QUICK, "--set", "optimizer=sgd,myopt:HalfSGD", "--set", "scale=0.25,0.5", cwd=module_dir)
    assert proc.returncode == 0, proc.stderr
    folder = module_dir / "results/optimizer_compare/digits-quick"
    records = pd.read_parquet(folder / "records.parquet")
    cells = records.drop_duplicates("cell_id")
    # scale multiplies only the cells of the optimizer that takes it; sgd runs once.
    assert sorted(map(str, zip(cells["optimizer"], cells["scale"]))) == [
        "('myopt:HalfSGD', 0.25)", "('myopt:HalfSGD', 0.5)", "('sgd', nan)"]
    assert set(cells.loc[cells["optimizer"] == "myopt:HalfSGD", "lr"]) == {0.05}  # the lr it used
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["plugins"]["myopt:HalfSGD"]["sha256"] and manifest["plugins"]["myopt:HalfSGD"]["source"] == \
        "myopt:HalfSGD"
    figures = sorted(p.name for p in (folder / "figures").glob("*.png"))
    assert figures == ["optimizer_compare__scale=0.25.png", "optimizer_compare__scale=0.5.png"]


@pytest.mark.parametrize("spec, message", [
    ("nomodule:Opt", "cannot import 'nomodule'"),
    ("myopt:Missing", "module 'myopt' has no 'Missing'"),
    ("myopt:NoUpdate", "has no update(params, grads) method"),
    ("myopt:NeedsArg", "its argument 'size' has no default"),
    ("myopt:Broken", "cannot be made with its defaults: RuntimeError"),
    ("adamw", "unknown optimizer 'adamw': choose from sgd"),
])
def test_outside_optimizer_errors_are_one_line(module_dir, spec, message):
    (module_dir / "myopt.py").write_text(HALF_SGD + textwrap.dedent('''
        class NoUpdate:
            pass

        class NeedsArg:
            def __init__(self, size):
                pass

        class Broken:
            def __init__(self, lr=0.1):
                raise RuntimeError("no")
    '''))
    proc = cli(*QUICK, "--set", f"optimizer={spec}", cwd=module_dir)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (module_dir / "results").exists()


def test_an_installed_package_registers_an_optimizer_by_name(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "halfopt.py").write_text(HALF_SGD)
    fake_distribution(site, "halfopt", "[nnbench.optimizers]\nhalf = halfopt:HalfSGD\n")
    proc = cli(*QUICK, "--set", "optimizer=sgd,half", cwd=tmp_path, extra_path=[site])
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "results/optimizer_compare/digits-quick/manifest.json").read_text())
    assert manifest["plugins"]["half"]["package"] == "halfopt" and manifest["plugins"]["half"]["version"] == "1.0"


EXPERIMENT_MODULE = '''
import bench
from bench.params import Float
from tests.toy_experiment import run, plot

EXPERIMENT = bench.Experiment(name="{name}", description="an outside toy", run=run, plot=plot,
                              grid={{"lr": [0.1], "hidden": [4], "steps": [5], "mode": ["ok"], "sleep": [0.0]}},
                              params=__import__("tests.toy_experiment").toy_experiment.EXPERIMENT.params,
                              datasets=("moons",), seeds=1)
'''


def test_experiments_from_entry_points_and_clashes(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "mine.py").write_text(EXPERIMENT_MODULE.format(name="mine.toy"))
    (site / "clash.py").write_text(EXPERIMENT_MODULE.format(name="optimizer_compare"))
    fake_distribution(site, "mine", "[nnbench.experiments]\ntoy = mine\nclash = clash\n")
    listed = cli("list", cwd=tmp_path, extra_path=[site])
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("mine.toy"))
    assert "[entry point toy = mine (mine 1.0)]" in line
    assert "a built-in experiment's name; refused" in listed.stderr
    builtin = next(line for line in listed.stdout.splitlines() if line.startswith("optimizer_compare"))
    assert "entry point" not in builtin
    ran = cli("run", "mine.toy", "--no-progress", cwd=tmp_path, extra_path=[site])
    assert ran.returncode == 0, ran.stderr


def test_an_npz_of_points_runs_where_the_experiment_takes_points(tmp_path):
    points_npz(tmp_path / "pts.npz")
    proc = cli("run", "hidden_size_sweep", "--quick", "--dataset", "npz:pts.npz", "--seeds", "1", "--no-progress",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "results/hidden_size_sweep/npz-pts-quick"
    records = pd.read_parquet(folder / "records.parquet")
    assert set(records["dataset"]) == {f"npz:{tmp_path / 'pts.npz'}"}  # an absolute path: one file everywhere
    refused = cli("run", "mnist_sgd", "--quick", "--dataset", "npz:pts.npz", cwd=tmp_path)
    assert refused.returncode == 2 and "mnist_sgd takes images data; " in refused.stderr


def test_idx_folder_under_mnist_names(tmp_path):
    from tests.conftest import tiny_idx_files

    tiny_idx_files(tmp_path / "mine")
    proc = cli(*QUICK, "--dataset", "idx:mine", "--set", "optimizer=sgd", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "results/optimizer_compare/idx-mine-quick/records.parquet").exists()


@pytest.mark.parametrize("overrides, message", [
    ({"t_train": None}, "no t_train"),
    ({"t_train": [0.5] * 120}, "it needs one integer class label per sample"),
    ({"t_test": [0, 1, 2]}, "x_test has 40 samples but t_test 3 labels"),
    ({"t_train": [-1] * 60 + [1] * 60}, "t_train runs from -1 to 1"),
    ({"x_test": [[0.0, 1.0, 2.0]] * 40}, "x_test has 3 features per sample, the training set 2"),
    ({"x_train": [[float("nan"), 0.0]] * 120}, "x_train holds NaN"),
    ({"x_train": [[0.0, 0.0]] * 120}, "nothing to learn from"),
])
def test_bad_outside_data_is_one_line_before_any_cell(tmp_path, overrides, message):
    import numpy as np

    points_npz(tmp_path / "bad.npz", **{k: None if v is None else np.asarray(v) for k, v in overrides.items()})
    proc = cli(*QUICK, "--dataset", "npz:bad.npz", cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "results").exists()
    missing = cli(*QUICK, "--dataset", "npz:nowhere.npz", cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read it as .npz" in missing.stderr


def test_an_installed_package_registers_a_data_set(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "mydata.py").write_text(textwrap.dedent('''
        import numpy as np

        def blobs():
            rng = np.random.default_rng(0)
            x = rng.standard_normal((200, 5)) + np.repeat([[0.0], [3.0]], 100, axis=0)
            t = np.repeat([0, 1], 100)
            return {"x_train": x[::2], "t_train": t[::2], "x_test": x[1::2], "t_test": t[1::2]}
    '''))
    fake_distribution(site, "mydata", "[nnbench.datasets]\nblobs = mydata:blobs\n")
    proc = cli(*QUICK, "--dataset", "blobs", "--set", "optimizer=adam", cwd=tmp_path, extra_path=[site])
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(tmp_path / "results/optimizer_compare/blobs-quick/summary.csv")
    assert summary.loc[summary["metric"] == "test_acc", "mean"].iloc[0] > 0.9  # the blobs are easy

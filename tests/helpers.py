"""Running the CLI as a user would: a real subprocess, in a scratch folder."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli_env(extra_modules="tests.toy_experiment"):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["NNBENCH_EXPERIMENTS"] = extra_modules
    env.pop("NNBENCH_RESULTS", None)
    return env


def bench_cmd(*args):
    return [sys.executable, "-m", "bench", *args]


def run_cli(*args, cwd, timeout=300):
    return subprocess.run(bench_cmd(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# Tests on the real Fashion-MNIST files. Skipped on a developer's machine without Debian's package;
# never in CI (CI=true), which installs it: there a missing package fails the tests.
needs_fashion = pytest.mark.skipif(not FASHION_DIR.is_dir() and not os.environ.get("CI"),
                                   reason="apt-get install dataset-fashion-mnist (CI installs it)")


def wait_for_cells(cells_dir, n, timeout=120):
    """Block until `n` finished cells (status files) are in cells_dir, or the timeout passes."""
    deadline = time.time() + timeout
    while time.time() < deadline and len(list(Path(cells_dir).glob("*.json"))) < n:
        time.sleep(0.05)


def fake_distribution(folder, name, entry_points):
    """A package as importlib.metadata sees one installed: NAME-1.0.dist-info on the path."""
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


class RunsCode:
    """A pickle that calls a function while it is read: what a hostile weights file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


PLANTED = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def data_of(page):
    raw = re.search(r'<script type="application/json" id="nnbench-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(raw)


HALF_SGD = '''
class HalfSGD:
    """SGD whose step is scaled: p -= scale * lr * g."""

    def __init__(self, lr=0.05, scale=0.5):
        self.lr, self.scale = lr, scale

    def update(self, params, grads):
        for key, p in params.items():
            p -= self.scale * self.lr * grads[key]
'''


def points_npz(path, seed=0, **overrides):
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.standard_normal((120, 2)), "t_train": rng.integers(0, 2, 120),
              "x_test": rng.standard_normal((40, 2)), "t_test": rng.integers(0, 2, 40)}
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path

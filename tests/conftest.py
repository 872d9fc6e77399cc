import gzip
import hashlib
import json
import os
import shutil
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import bench
from bench import explorer, plugins
from nncore.datasets import IMAGE_SPECS, write_idx
from nncore.datasets.idx import content_digest
from nncore.datasets.mnist import FILES
from tests.helpers import HALF_SGD, PLANTED


@pytest.fixture(scope="session", autouse=True)
def tidy_under_mutmut(tmp_path_factory):
    """mutmut ends each test session with os._exit, so pytest's own tidying (at exit) never runs and
    every session's temporary folder, converted data sets included, would stay on disk: remove it here."""
    yield
    if "MUTANT_UNDER_TEST" in os.environ:
        shutil.rmtree(tmp_path_factory.getbasetemp(), ignore_errors=True)


@pytest.fixture(scope="session")
def shared_fashion_arrays(tmp_path_factory):
    """One folder of converted Fashion-MNIST arrays for the whole session (440 MB in float64): the
    Debian files are the same for every test, so they are converted once, not once per test."""
    return tmp_path_factory.mktemp("fashion_prepared")


@pytest.fixture(autouse=True)
def isolated_data_dirs(tmp_path_factory, monkeypatch, shared_fashion_arrays):
    """No test sees the user's cache or NNBENCH_DATA."""
    cache = tmp_path_factory.mktemp("cache")
    (cache / "nnbench" / "fashion_mnist").mkdir(parents=True)
    (cache / "nnbench" / "fashion_mnist" / "prepared").symlink_to(shared_fashion_arrays)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("NNBENCH_DATA", raising=False)


def tiny_idx_files(folder, n_train=60, n_test=20, seed=0):
    """Write the four MNIST files for a tiny, learnable image set: class k lights up row k."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = []
    for n in (n_train, n_test):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), labels * 2 + 3, :] = 255
        arrays += [images, labels]
    for name, array in zip(FILES, arrays):
        write_idx(folder / name, array)
    return arrays


def stand_in_for(monkeypatch, name, folder):
    """Let the files in `folder` pass for the official `name` files in this test (in this process):
    their content digests replace the published ones."""
    spec = IMAGE_SPECS[name]
    monkeypatch.setitem(IMAGE_SPECS, name, replace(spec, contents=tuple(content_digest(folder / f) for f in FILES)))


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """Tiny IDX files standing in for MNIST."""
    folder = tmp_path / "tiny"
    tiny_idx_files(folder)
    stand_in_for(monkeypatch, "mnist", folder)
    return folder


class FileServer:
    """Serves bytes on 127.0.0.1: /ok/NAME in full, /broken/NAME cut off half way, /paused/NAME half,
    then the rest once `resume` is set, /silent/NAME nothing until `resume` is set, /missing/NAME 404."""

    def __init__(self, files):
        self.files = files
        self.resume = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                kind, _, name = self.path.strip("/").partition("/")
                body = server.files.get(name)
                if body is None or kind == "missing":
                    self.send_error(404)
                    return
                if kind == "silent":
                    server.resume.wait(10)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if kind == "ok" else body[: len(body) // 2])
                self.wfile.flush()
                if kind == "paused":
                    server.resume.wait(10)
                    self.wfile.write(body[len(body) // 2:])
                elif kind != "ok":
                    self.connection.close()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.resume.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server(tmp_path):
    folder = tmp_path / "served"
    tiny_idx_files(folder)
    files = {name: (folder / name).read_bytes() for name in FILES}
    server = FileServer(files)
    server.sha256 = {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
    yield server
    server.close()


def gz(data):
    return gzip.compress(data)


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


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    (tmp_path / "myopt.py").write_text(HALF_SGD)
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins._resolve.cache_clear()
    yield tmp_path
    sys.modules.pop("myopt", None)
    plugins._resolve.cache_clear()

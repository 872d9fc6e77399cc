"""No experiment fails out of the box: each one, on every data set it declares, with --quick. The
image sets are tiny IDX files in MNIST's format (the real ones are exercised in test_comparisons)."""

import pytest

import bench
from bench import registry
from tests.conftest import stand_in_for, tiny_idx_files

CASES = [(name, dataset) for name, exp in registry.all_experiments().items() for dataset in exp.datasets]


@pytest.fixture
def tiny_image_sets(tmp_path, monkeypatch):
    for name in ("mnist", "fashion_mnist"):
        tiny_idx_files(tmp_path / "data" / name)
        stand_in_for(monkeypatch, name, tmp_path / "data" / name)
    monkeypatch.setenv("NNBENCH_DATA", str(tmp_path / "data"))


@pytest.mark.parametrize("name, dataset", CASES, ids=[f"{n}-{d}" for n, d in CASES])
def test_quick_run_has_no_failed_cell(tmp_path, tiny_image_sets, name, dataset):
    result = bench.run(name, dataset=dataset, quick=True, results_dir=tmp_path / "results", progress=False)
    bad = {c["params"].get("hidden", ""): c.get("message") for c in result.manifest["cells"].values()
           if c["status"] not in ("ok", "diverged")}
    assert not bad, bad
    assert result.manifest["figures"]

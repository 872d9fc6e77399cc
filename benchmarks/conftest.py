"""Benchmarks run with one BLAS thread, so step/floor ratios compare like with like."""

import pytest
from threadpoolctl import threadpool_limits

RATIOS = []


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def record_ratio():
    def record(name, result, target):
        RATIOS.append((name, result, target))

    return record


def pytest_terminal_summary(terminalreporter):
    if not RATIOS:
        return
    tr = terminalreporter
    tr.section("training step / floor (one BLAS thread, medians, interleaved)")
    for name, r, target in RATIOS:
        verdict = "within" if r["ratio"] <= target else "OVER"
        tr.write_line(f"{name:<45} step {r['step'] * 1e3:7.3f} ms  floor {r['floor'] * 1e3:7.3f} ms  "
                      f"ratio {r['ratio']:.3f}  ({verdict} target {target})")

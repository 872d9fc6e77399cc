"""Wall time of whole figures from a cold start, against the book's own scripts (issue: engine_speed).

Each command runs as a new process (interpreter, imports, data, workers, tables and figures included),
`--reps` times, into a temporary results folder, and the table is printed in Markdown. The floor of the
book's step is timed before and after, since this machine class drifts 15-20% within an hour.
Run: python tests/benchmarks/whole_figures.py [--reps 3]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from nncore import MLP
from nncore.floor import floor_products, median_time

# The book's chapter 6 scripts as shipped, one seed, Fashion-MNIST, 2 cores (docs/sources.md).
BOOK_SECONDS = {"optimizer_compare": 53.8, "weight_init_compare": 22.3, "batchnorm_scales": 33.4}
ONE_SEED = ["--dataset", "fashion_mnist", "--seeds", "1"]
FIGURES = [
    ("optimizer comparison (the book's 4 optimizers)", "optimizer_compare",
     ONE_SEED + ["--set", "optimizer=sgd,momentum,adagrad,adam"]),
    ("weight-init comparison (ReLU)", "weight_init_compare", ONE_SEED + ["--set", "activation=relu"]),
    ("batch-norm grid, the book's workload (train accuracy each epoch)", "batchnorm_scales",
     ONE_SEED + ["--set", "test_every=0"]),
    ("batch-norm grid as nnbench runs it (train and test accuracy each epoch)", "batchnorm_scales", ONE_SEED),
]
EQUAL_CELLS = ["--dataset", "fashion_mnist", "--seeds", "4", "--set", "optimizer=sgd"]


def wall(name, args, reps, results):
    """Seconds of each of `reps` cold runs of `python -m bench run name args --force`."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench", "run", name, *args, "--force", "--results", results],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def floor_ms():
    """Median time of the matrix products of the book's step (784-100x4-10, batch 128, float64, one thread)."""
    net = MLP([784, 100, 100, 100, 100, 10], np.random.default_rng(0))
    with threadpool_limits(limits=1, user_api="blas"):
        return 1e3 * median_time(floor_products(net, 128))[0]


def command(name, args):
    return "`python -m bench run " + " ".join([name, *args]) + "`"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    reps = parser.parse_args().reps
    before = floor_ms()
    with tempfile.TemporaryDirectory() as results:
        print("| figure | command | nnbench, each run | book | speed-up (median) |")
        print("|---|---|---|---|---|")
        for label, name, args in FIGURES:
            times = wall(name, args, reps, results)
            book = BOOK_SECONDS[name]
            print(f"| {label} | {command(name, args)} | {' / '.join(f'{t:.1f} s' for t in times)} | {book} s "
                  f"| {book / statistics.median(times):.2f}x |")
        two, one = (wall("optimizer_compare", EQUAL_CELLS + ["--jobs", j], reps, results) for j in ("2", "1"))
        print(f"| 4 equal cells, `--jobs 2` / `--jobs 1` | {command('optimizer_compare', EQUAL_CELLS)} "
              f"`--jobs 2`, `--jobs 1` | {' / '.join(f'{t:.1f}' for t in two)} s vs "
              f"{' / '.join(f'{t:.1f}' for t in one)} s | | {statistics.median(two) / statistics.median(one):.2f}x |")
    print(f"\nFloor of the book's step (784-100x4-10, batch 128, float64, one BLAS thread): {before:.2f} ms "
          f"before the runs, {floor_ms():.2f} ms after; the book's times were taken at 1.8 ms.")


if __name__ == "__main__":
    main()

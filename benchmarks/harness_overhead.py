"""What the harness costs around the work, on the toy experiment with one-step cells (a few
milliseconds of training each): a one-cell command as a new process (imports, tables and figures
included), tiny cells per second, a no-op rerun of a finished grid, and the driver's peak memory.

Run: python benchmarks/harness_overhead.py [--cells 3000] [--big 10000] [--reps 3]   (docs/performance.md)
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NNBENCH_EXPERIMENTS": "tests.toy_experiment",
       "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def command(results, *args):
    """Seconds and peak memory (MB) of one `python -m bench run toy ...` process."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "bench", "run", "toy", *args,
                           "--results", results, "--no-progress"], env=ENV, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    return seconds, int(proc.stderr.strip().splitlines()[-1]) / 1024


# A grid run through the Python API without figures, in its own process: the driver's own cost.
IN_PROCESS = """
import resource, sys, time, bench
n = int(sys.argv[1])
lrs = [round(0.0001 * (i + 1), 4) for i in range(n // 2)]
start = time.perf_counter()
result = bench.run("toy", seeds=2, overrides={"lr": lrs, "steps": [1]}, figures=False, progress=False, jobs=2,
                   results_dir=sys.argv[2], log=lambda line: None)
cell = sum(c["wall_time"] for c in result.manifest["cells"].values()) / n
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, cell)
"""


def in_process(n_cells, results):
    """Seconds, driver peak memory (MB) and a cell's own mean seconds (its run function) of an n_cells
    grid run with bench.run(figures=False)."""
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, str(n_cells), results], env=ENV, capture_output=True,
                          text=True, check=True)
    return tuple(map(float, proc.stdout.split()))


def grid(n_cells):
    """--set values for n_cells one-step toy cells (two seeds per learning rate)."""
    lrs = ",".join(f"{0.0001 * (i + 1):.4f}" for i in range(n_cells // 2))
    return ["--set", f"lr={lrs}", "--set", "steps=1", "--seeds", "2"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=3000)
    parser.add_argument("--big", type=int, default=10000, help="cells of the in-process grid (memory)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as results:
        one = [command(results, "--set", "lr=0.1", "--set", "steps=1", "--seeds", "1", "--run", f"one{i}")[0]
               for i in range(args.reps)]
        seconds, memory = command(results, *grid(args.cells), "--run", "grid", "--jobs", "2")
        again = [command(results, *grid(args.cells), "--run", "grid")[0] for _ in range(args.reps)]
        big_seconds, big_memory, cell_seconds = in_process(args.big, results)
    print("| measure | value |\n|---|---|")
    shown = ", ".join(f"{t:.2f}" for t in one)
    print(f"| one-cell command (new process, tables and figures) | median {statistics.median(one):.2f} s ({shown}) |")
    print(f"| {args.cells} one-step cells, 2 workers, whole command | {seconds:.1f} s: "
          f"{args.cells / seconds:.0f} cells/s, driver peak {memory:.0f} MB |")
    print(f"| no-op rerun of the finished {args.cells}-cell grid | median {statistics.median(again):.2f} s |")
    print(f"| {args.big} one-step cells through bench.run(figures=False), 2 workers | {big_seconds:.1f} s: "
          f"{args.big / big_seconds:.0f} cells/s, driver peak {big_memory:.0f} MB |")
    # Each of the 2 workers is busy for wall time x 2 / cells per cell; the cell's own work is the rest.
    overhead = 2 * big_seconds / args.big - cell_seconds
    print(f"| harness cost per cell in those (2 x wall / cells, less the cell's own {cell_seconds * 1e3:.1f} ms) | "
          f"{overhead * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()

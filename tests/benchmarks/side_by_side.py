"""nnbench and its peers measured side by side, in one session, on the same work, one BLAS thread.

1. Steps, in this process, interleaved over rounds: nnbench's training step (gradient and SGD update),
   the floor of its matrix products, and the book's MultiLayerNet / MultiLayerNetExtend step on the
   same shapes (and PyTorch's, when it is installed), for the book's 784-100x4-10 net at batch 128
   and 10 and its batch-norm net 784-100x5-10 at batch 100.
2. Whole figures (--figures), as whole processes, alternating nnbench and the book's chapter 6 script
   round by round, on the same data (Fashion-MNIST from Debian, placed where the book's loader looks)
   and the same iteration counts.

Peers come from checkouts you point at: --book DIR or $NNBENCH_BOOK (a checkout, or a bare clone, of
oreilly-japan/deep-learning-from-scratch). A missing peer is skipped with a one-line message; nothing
of its code is copied into nnbench: the book's scripts run from a temporary copy of your checkout.

Run: python tests/benchmarks/side_by_side.py --book DIR [--rounds 5] [--figures] [--out FILE.md]
"""

import argparse
import contextlib
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import nncore
from nncore.floor import floor_products, seconds_per_call

FASHION = Path("/usr/share/datasets/fashion-mnist")
STEPS = [  # (label, sizes, batch, batch norm)
    ("784-100x4-10, batch 128", [784, 100, 100, 100, 100, 10], 128, False),
    ("784-100x4-10, batch 10", [784, 100, 100, 100, 100, 10], 10, False),
    ("784-100x5-10 batch norm, batch 100", [784, 100, 100, 100, 100, 100, 10], 100, True),
]
FIGURES = [  # (label, nnbench arguments, the book's script)
    ("optimizer comparison (4 optimizers, 2000 iterations)",
     ["optimizer_compare", "--set", "optimizer=sgd,momentum,adagrad,adam"], "ch06/optimizer_compare_mnist.py"),
    ("weight-init comparison (3 inits, 2000 iterations)",
     ["weight_init_compare", "--set", "activation=relu"], "ch06/weight_init_compare.py"),
    ("batch-norm grid (16 scales x 2, 20 epochs on 1000 images)",
     ["batchnorm_scales", "--set", "test_every=0"], "ch06/batch_norm_test.py"),
]


def book_tree(path, into):
    """A working copy of the book's repository in `into` (from a checkout or a bare clone), or None."""
    path = Path(path)
    if (path / "common" / "multi_layer_net.py").exists():
        shutil.copytree(path, into, ignore=shutil.ignore_patterns(".git"), dirs_exist_ok=True)
        return Path(into)
    if (path / "HEAD").exists():  # a bare clone
        archive = subprocess.run(["git", "--git-dir", str(path), "archive", "HEAD"], capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(into, filter="data")
        return Path(into)
    return None


@contextlib.contextmanager
def on_path(folder):
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def step_timers(book, sizes, batch, batchnorm, rng):
    """{name: no-argument callable doing one step}, for the same shapes and batch in float64."""
    x = rng.random((batch, sizes[0]))
    t = rng.integers(0, sizes[-1], batch)
    net = nncore.MLP(sizes, np.random.default_rng(0), activation="relu", init="he", batchnorm=batchnorm)
    opt = nncore.SGD()

    def ours():
        _, grads = net.gradient(x, t)
        opt.update(net.params, grads)

    timers = {"nnbench step": ours, "floor (its matrix products)": floor_products(net, batch)}
    if book is not None:
        with on_path(book):
            from common.multi_layer_net import MultiLayerNet
            from common.multi_layer_net_extend import MultiLayerNetExtend
            from common.optimizer import SGD
        peer = (MultiLayerNetExtend(sizes[0], sizes[1:-1], sizes[-1], use_batchnorm=True) if batchnorm
                else MultiLayerNet(sizes[0], sizes[1:-1], sizes[-1]))
        peer_opt = SGD()

        def theirs():
            peer_opt.update(peer.params, peer.gradient(x, t))

        timers["the book's step"] = theirs
    try:
        import torch
    except ImportError:
        pass
    else:
        timers["PyTorch step"] = torch_step(torch, sizes, batch, batchnorm, x, t)
    return timers


def torch_step(torch, sizes, batch, batchnorm, x, t):
    torch.set_num_threads(1)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers += [torch.nn.BatchNorm1d(b, dtype=torch.float64)] if batchnorm else []
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), tt).backward()
        opt.step()

    return step


def time_steps(book, rounds):
    """Rows: per configuration and timer, seconds per step (min and median over rounds, each round
    the mean of a fixed number of back-to-back steps, the timers interleaved within each round)."""
    rng = np.random.default_rng(0)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for label, sizes, batch, batchnorm in STEPS:
            timers = step_timers(book, sizes, batch, batchnorm, rng)
            for fn in timers.values():  # warm up, and size each timing to about 0.2 s
                fn()
            number = {k: max(5, int(0.2 / max(seconds_per_call(fn, 5), 1e-7))) for k, fn in timers.items()}
            samples = {k: [] for k in timers}
            for _ in range(rounds):
                for k, fn in timers.items():
                    samples[k].append(seconds_per_call(fn, number[k]))
            floor = statistics.median(samples["floor (its matrix products)"])
            for k, values in samples.items():
                rows.append((label, k, min(values), statistics.median(values), statistics.median(values) / floor))
    return rows


def wall(cmd, cwd, env):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def time_figures(book, rounds):
    """Rows: per figure, each round's seconds for nnbench and for the book's script, alternating."""
    if book is None:
        return []
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(FASHION / name, book / "dataset" / name)  # where the book's loader looks for MNIST
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    with on_path(book):
        from dataset.mnist import init_mnist
    init_mnist()  # the book's one-time conversion to mnist.pkl, outside the timings
    rows = []
    with tempfile.TemporaryDirectory() as results:
        nnbench = [sys.executable, "-m", "bench", "run", "--dataset", "fashion_mnist", "--seeds", "1",
                   "--blas-threads", "1", "--force", "--no-progress", "--results", results]
        for label, args, script in FIGURES:
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(wall([*nnbench[:4], *args, *nnbench[4:]], None, env))
                theirs.append(wall([sys.executable, Path(script).name], book / Path(script).parent, env))
            rows.append((label, ours, theirs))
    return rows


def machine():
    blas = ", ".join(f"{i['internal_api']} {i['version']}" for i in threadpool_info())
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {cpu} · {os.cpu_count()} cores · BLAS {blas} · "
            f"Python {platform.python_version()} · numpy {version('numpy')} · nnbench {version('nnbench')}")


def report(steps, figures, rounds):
    lines = [f"Measured {machine()}; {rounds} rounds, one BLAS thread.", "",
             "| network | implementation | min ms/step | median ms/step | median / floor |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {lo * 1e3:.3f} | {med * 1e3:.3f} | {ratio:.2f} |" for a, b, lo, med, ratio in steps]
    if figures:
        lines += ["", "| figure | nnbench, each round (s) | the book's script, each round (s) | book / nnbench "
                      "(medians) |", "|---|---|---|---|"]
        for label, ours, theirs in figures:
            each = [" / ".join(f"{t:.1f}" for t in times) for times in (ours, theirs)]
            ratio = statistics.median(theirs) / statistics.median(ours)
            lines.append(f"| {label} | {each[0]} | {each[1]} | {ratio:.2f}x |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", default=os.environ.get("NNBENCH_BOOK"),
                        help="the book's repository (checkout or bare clone); default $NNBENCH_BOOK")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--figures", action="store_true", help="also time whole figures as processes")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = book_tree(args.book, Path(tmp) / "book") if args.book else None
        if book is None:
            print("the book's repository: not given or not found (--book DIR or $NNBENCH_BOOK); its rows are skipped")
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch: not installed; its rows are skipped")
        if args.figures and not FASHION.is_dir():
            print(f"whole figures: no {FASHION} (apt-get install dataset-fashion-mnist); skipped")
        steps = time_steps(book, args.rounds)
        figures = time_figures(book, max(2, args.rounds // 2)) if args.figures and FASHION.is_dir() else []
        text = report(steps, figures, args.rounds)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()

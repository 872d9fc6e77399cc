"""nnbench and its peers measured side by side, in one session, on the same work, one BLAS thread.

1. Steps, in this process, interleaved over rounds: nnbench's training step (gradient and SGD update),
   the floor of its matrix products, and the book's MultiLayerNet / MultiLayerNetExtend step on the
   same shapes (and PyTorch's, when it is installed), for the book's 784-100x4-10 net at batch 128
   and 10 and its batch-norm net 784-100x5-10 at batch 100.
2. Whole figures (--figures), as whole processes, alternating nnbench and the book's chapter 6 script
   round by round, on the same data (Fashion-MNIST from Debian, placed where the book's loader looks)
   and the same iteration counts; and one epoch of Nielsen's network.py ([784, 30, 10], mini-batch 10,
   50,000 images) against nielsen_sgd's, each timed inside its own process.

Peers come from checkouts you point at: --book DIR or $NNBENCH_BOOK (a checkout, or a bare clone, of
oreilly-japan/deep-learning-from-scratch), --nielsen DIR or $NNBENCH_NIELSEN (of
mnielsen/neural-networks-and-deep-learning; its Python 2 code is run through lib2to3 in a temporary
copy). A missing peer is skipped with a one-line message; nothing of their code is copied into
nnbench: their scripts run from temporary copies of your checkouts.

Run: python benchmarks/side_by_side.py --book DIR --nielsen DIR [--step-rounds 21] [--figures] [--rounds 4]
     [--out FILE.md]
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
from nncore.floor import calls_for, floor_products, seconds_per_call, training_step

FASHION = Path("/usr/share/datasets/fashion-mnist")
STEPS = [  # (label, sizes, batch, batch norm, the target for step / floor per dtype)
    ("784-100x4-10, batch 128", [784, 100, 100, 100, 100, 10], 128, False, {"float64": 1.15, "float32": 1.2}),
    ("784-100x4-10, batch 10", [784, 100, 100, 100, 100, 10], 10, False, {"float64": 1.4, "float32": 1.4}),
    ("784-100x5-10 batch norm, batch 100", [784, 100, 100, 100, 100, 100, 10], 100, True,
     {"float64": 1.35, "float32": 1.35}),
]
DTYPES = ("float64", "float32")  # the book's nets are float64 only: its rows appear under float64
# Every peer process, and nnbench's, with one BLAS thread.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
FLOOR = "floor (its matrix products)"
FIGURES = [  # (label, nnbench arguments, the book's script)
    # The book's script records the loss only: nnbench's test evaluation every 100 iterations (2 of a
    # cell's 7 s) is left out for the book's workload; one evaluation after the last iteration remains.
    ("optimizer comparison (4 optimizers, 2000 iterations)",
     ["optimizer_compare", "--set", "optimizer=sgd,momentum,adagrad,adam", "--set", "eval_every=2000"],
     "ch06/optimizer_compare_mnist.py"),
    ("weight-init comparison (3 inits, 2000 iterations)",
     ["weight_init_compare", "--set", "activation=relu"], "ch06/weight_init_compare.py"),
    ("batch-norm grid (16 scales x 2, 20 epochs on 1000 images)",
     ["batchnorm_scales", "--set", "test_every=0"], "ch06/batch_norm_test.py"),
]


def peer_tree(path, into, marker):
    """A working copy of a peer's repository in `into` (from a checkout or a bare clone holding the
    file `marker`), or None."""
    path = Path(path)
    if (path / marker).exists():
        shutil.copytree(path, into, ignore=shutil.ignore_patterns(".git"), dirs_exist_ok=True)
        return Path(into)
    if (path / "HEAD").exists():  # a bare clone
        archive = subprocess.run(["git", "--git-dir", str(path), "archive", "HEAD"], capture_output=True)
        if archive.returncode:  # a clone without its large files: the folder that holds the code
            archive = subprocess.run(["git", "--git-dir", str(path), "archive", "HEAD", marker.split("/")[0]],
                                     capture_output=True, check=True)
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


def step_timers(book, sizes, batch, batchnorm, dtype, rng):
    """{name: no-argument callable doing one step}, for the same shapes, batch and dtype."""
    x = rng.random((batch, sizes[0])).astype(dtype)
    t = rng.integers(0, sizes[-1], batch)
    net = nncore.MLP(sizes, np.random.default_rng(0), activation="relu", init="he", batchnorm=batchnorm, dtype=dtype)
    timers = {"nnbench step": training_step(net, nncore.SGD(), x, t), FLOOR: floor_products(net, batch)}
    if book is not None and dtype == "float64":
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
    dtype = getattr(torch, x.dtype.name)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers += [torch.nn.BatchNorm1d(b, dtype=dtype)] if batchnorm else []
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
    """Rows (label, dtype, timer, min and median seconds per step, median per-round ratio to the floor,
    target): each round times every timer for about 50 ms, interleaved, so a ratio compares a step
    and its floor measured moments apart; the median over rounds leaves out the rounds the machine
    was disturbed in."""
    rng = np.random.default_rng(0)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for label, sizes, batch, batchnorm, targets in STEPS:
            for dtype in DTYPES:
                timers = step_timers(book, sizes, batch, batchnorm, dtype, rng)
                number = {k: max(5, calls_for(fn, 0.05)) for k, fn in timers.items()}  # warmed, ~50 ms a timing
                samples = {k: [] for k in timers}
                for _ in range(rounds):
                    for k, fn in timers.items():
                        samples[k].append(seconds_per_call(fn, number[k]))
                for k, values in samples.items():
                    ratio = statistics.median(v / f for v, f in zip(values, samples[FLOOR]))
                    target = targets[dtype] if k == "nnbench step" else None
                    rows.append((label, dtype, k, min(values), statistics.median(values), ratio, target))
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
    env = {**ONE_THREAD, "MPLBACKEND": "Agg"}  # the scripts' plt.show() draws nothing
    with on_path(book):
        from dataset.mnist import init_mnist
    with contextlib.redirect_stdout(io.StringIO()):  # its progress lines would land in the table's output
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
            rows.append((f"{label}, against the book's {script}", ours, theirs))
    return rows


EPOCHS = 3  # per process; the median epoch is reported (the first one also pays page faults and warm-up)
# Run inside a copy of Nielsen's repository (cwd: its src/): EPOCHS epochs of its network.py, each timed.
NETWORK_EPOCH = f"""
import statistics, time, mnist_loader, network
training, validation, test = mnist_loader.load_data_wrapper()
net = network.Network([784, 30, 10])
times = []
for _ in range({EPOCHS}):
    start = time.perf_counter()
    net.SGD(training, 1, 10, 3.0)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def time_network_py(nielsen, tmp, rounds):
    """[(label, nnbench's seconds per epoch each round, network.py's)] on the same Fashion-MNIST:
    50,000 training images (the rest as network.py's validation set), as network.py's pickle."""
    import gzip
    import pickle

    from nncore.datasets import load

    try:
        subprocess.run([sys.executable, "-W", "ignore", "-m", "lib2to3", "-w", "-n", "src/network.py",
                        "src/mnist_loader.py"], cwd=nielsen, check=True, capture_output=True)
    except subprocess.CalledProcessError:
        print("network.py: lib2to3 (Python < 3.13) could not convert it to Python 3; skipped")
        return []
    data = load("fashion_mnist", dtype=np.float32)
    x, t = np.asarray(data.x_train), np.asarray(data.t_train)
    sets = ((x[:50000], t[:50000]), (x[50000:], t[50000:]), (np.asarray(data.x_test), np.asarray(data.t_test)))
    (nielsen / "data").mkdir(exist_ok=True)
    with gzip.open(nielsen / "data" / "mnist.pkl.gz", "wb") as f:
        pickle.dump(sets, f, protocol=2)
    env = ONE_THREAD
    ours, theirs = [], []
    for _ in range(rounds):
        folder = tmp / f"nielsen_sgd{len(ours)}"
        subprocess.run([sys.executable, "-m", "bench", "run", "nielsen_sgd", "--dataset", "fashion_mnist",
                        "--seeds", "1", "--set", "eta=3.0", "--set", f"epochs={EPOCHS}", "--no-progress",
                        "--results", str(folder)], env=env, check=True, capture_output=True)
        import pandas as pd

        records = pd.read_parquet(next(folder.glob("nielsen_sgd/*/records.parquet")))
        ours.append(float(records.loc[records["metric"] == "epoch_seconds", "value"].median()))
        proc = subprocess.run([sys.executable, "-c", NETWORK_EPOCH], cwd=nielsen / "src", env=env, check=True,
                              capture_output=True, text=True)
        theirs.append(float(proc.stdout.strip().splitlines()[-1]))
    return [(f"an epoch of network.py's SGD ([784, 30, 10], mini-batch 10, 50,000 images; median of {EPOCHS}, "
             "timed in-process)", ours, theirs)]


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


def report(steps, figures, step_rounds):
    lines = [f"Measured {machine()}; one BLAS thread; steps: {step_rounds} rounds.", "",
             "| network | dtype | implementation | min ms/step | median ms/step | / floor (round median) | target |",
             "|---|---|---|---|---|---|---|"]
    for label, dtype, name, lo, med, ratio, target in steps:
        verdict = "" if target is None else f"≤ {target}: " + ("met" if ratio <= target else "not met")
        lines.append(f"| {label} | {dtype} | {name} | {lo * 1e3:.3f} | {med * 1e3:.3f} | {ratio:.2f} | {verdict} |")
    if figures:
        lines += ["", "| work | nnbench, each round (s) | peer, each round (s) | peer / nnbench (medians) |",
                  "|---|---|---|---|"]
        for label, ours, theirs in figures:
            each = [" / ".join(f"{t:.1f}" for t in times) for times in (ours, theirs)]
            ratio = statistics.median(theirs) / statistics.median(ours)
            lines.append(f"| {label} | {each[0]} | {each[1]} | {ratio:.2f}x |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", default=os.environ.get("NNBENCH_BOOK"),
                        help="the book's repository (checkout or bare clone); default $NNBENCH_BOOK")
    parser.add_argument("--nielsen", default=os.environ.get("NNBENCH_NIELSEN"),
                        help="Nielsen's repository (checkout or bare clone); default $NNBENCH_NIELSEN")
    parser.add_argument("--step-rounds", type=int, default=21, help="rounds of the step timings (about 50 ms each)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each whole figure (each a few processes)")
    parser.add_argument("--figures", action="store_true", help="also time whole figures as processes")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = peer_tree(args.book, Path(tmp) / "book", "common/multi_layer_net.py") if args.book else None
        nielsen = peer_tree(args.nielsen, Path(tmp) / "nielsen", "src/network.py") if args.nielsen else None
        if book is None:
            print("the book's repository: not given or not found (--book DIR or $NNBENCH_BOOK); its rows are skipped")
        if args.figures and nielsen is None:
            print("Nielsen's repository: not given or not found (--nielsen DIR or $NNBENCH_NIELSEN); skipped")
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch: not installed; its rows are skipped")
        if args.figures and not FASHION.is_dir():
            print(f"whole figures: no {FASHION} (apt-get install dataset-fashion-mnist); skipped")
        steps = time_steps(book, args.step_rounds)
        whole = args.figures and FASHION.is_dir()
        figures = time_figures(book, args.rounds) if whole else []
        epochs = time_network_py(nielsen, Path(tmp), args.rounds) if whole and nielsen else []
        text = report(steps, figures + epochs, args.step_rounds)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()

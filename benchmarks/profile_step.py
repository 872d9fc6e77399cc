"""Where the time of a training step goes, kernel by kernel, for the step configurations of
side_by_side.py (both dtypes, one BLAS thread): each layer pass, the loss and the update timed inside
real steps, and the Affine passes split into their matrix products (the floor) and the rest (bias add,
bias gemv). The timing calls add a little to each entry. Run: python benchmarks/profile_step.py
"""

import time
from collections import defaultdict

import numpy as np
from side_by_side import DTYPES, STEPS
from threadpoolctl import threadpool_limits

import nncore
from nncore.floor import seconds_per_call

WARMUP, STEPS_TIMED = 200, 1000


def profile(sizes, batch, batchnorm, dtype):
    """Seconds per step in each kind of pass, plus the products of the Affine passes timed alone."""
    rng = np.random.default_rng(0)
    net = nncore.MLP(sizes, rng, batchnorm=batchnorm, dtype=dtype)
    opt = nncore.SGD()
    x_batch = rng.random((batch, sizes[0])).astype(dtype)
    t_batch = rng.integers(0, sizes[-1], batch)
    clock = time.perf_counter
    spent = defaultdict(float)
    for it in range(WARMUP + STEPS_TIMED):
        if it == WARMUP:
            spent.clear()
        x = x_batch
        for layer in net.layers:
            start = clock()
            x = layer.forward(x, True)
            spent[f"{type(layer).__name__} forward"] += clock() - start
        start = clock()
        net.loss_layer.forward(x, t_batch)
        d = net.loss_layer.backward()
        spent["softmax cross-entropy, both passes"] += clock() - start
        for i in range(len(net.layers) - 1, -1, -1):
            layer = net.layers[i]
            start = clock()
            d = layer.backward(d, need_dx=i > 0)
            spent[f"{type(layer).__name__} backward"] += clock() - start
        start = clock()
        opt.update(net.params, net.grads)
        spent["SGD update (axpy)"] += clock() - start
    parts = {k: v / STEPS_TIMED for k, v in spent.items()}
    products = affine_products(net, batch, dtype)
    for kind in ("forward", "backward"):
        parts[f"Affine {kind}: its products"] = products[kind]
        parts[f"Affine {kind}: the rest (bias, cache)"] = parts.pop(f"Affine {kind}") - products[kind]
    return parts


def affine_products(net, batch, dtype):
    """Seconds per step of the Affine layers' matrix products alone, forward and backward."""
    rng = np.random.default_rng(1)
    calls = {"forward": [], "backward": []}
    for i, a in enumerate(net.affines):
        x = rng.random((batch, a.W.shape[0])).astype(dtype)
        out, dW, dx = np.empty((batch, a.W.shape[1]), dtype), np.empty_like(a.W), np.empty_like(x)
        calls["forward"].append(lambda x=x, W=a.W, out=out: np.matmul(x, W, out=out))
        calls["backward"].append(lambda x=x, d=out, dW=dW: np.matmul(x.T, d, out=dW))
        if i:
            calls["backward"].append(lambda d=out, W=a.W, dx=dx: np.matmul(d, W.T, out=dx))
    return {kind: fastest_round(fns) for kind, fns in calls.items()}


def fastest_round(fns, rounds=7, number=200):
    """The fastest of a few timings of calling every function once (seconds per round of calls)."""
    def all_of_them():
        for fn in fns:
            fn()

    all_of_them()
    return min(seconds_per_call(all_of_them, number) for _ in range(rounds))


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        for label, sizes, batch, batchnorm, _ in STEPS:
            for dtype in DTYPES:
                parts = profile(sizes, batch, batchnorm, dtype)
                total = sum(parts.values())
                print(f"\n{label}, {dtype}: {total * 1e3:.3f} ms per step")
                for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
                    print(f"  {name:<40} {seconds * 1e6:8.1f} us  {100 * seconds / total:5.1f}%")

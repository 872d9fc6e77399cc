"""Where the time goes in one training step (784-100x4-10 ReLU, batch 128, one BLAS thread), layer by
layer. Run: python tests/benchmarks/profile_step.py (the timing calls add a little to each entry)."""

import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

import nncore

WARMUP, STEPS = 200, 2000


def profile(dtype):
    """Seconds per step spent in each kind of layer pass, the loss and the update."""
    rng = np.random.default_rng(0)
    net = nncore.MLP([784, 100, 100, 100, 100, 10], rng, dtype=dtype)
    opt = nncore.SGD()
    x_batch = rng.random((128, 784)).astype(dtype)
    t_batch = rng.integers(0, 10, 128)
    clock = time.perf_counter
    spent = defaultdict(float)
    for it in range(WARMUP + STEPS):
        if it == WARMUP:
            spent.clear()
        x = x_batch
        for layer in net.layers:
            start = clock()
            x = layer.forward(x, True)
            spent["forward " + type(layer).__name__] += clock() - start
        start = clock()
        net.loss_layer.forward(x, t_batch)
        d = net.loss_layer.backward()
        spent["softmax-CE fwd+bwd"] += clock() - start
        for i in range(len(net.layers) - 1, -1, -1):
            layer = net.layers[i]
            start = clock()
            d = layer.backward(d, need_dx=i > 0)
            spent["backward " + type(layer).__name__] += clock() - start
        start = clock()
        opt.update(net.params, net.grads)
        spent["SGD update (axpy)"] += clock() - start
    return {k: v / STEPS for k, v in spent.items()}


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        for dtype in (np.float64, np.float32):
            parts = profile(dtype)
            total = sum(parts.values())
            print(f"{np.dtype(dtype).name}: total {total * 1e3:.3f} ms")
            for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
                print(f"  {name:<22} {seconds * 1e6:8.1f} us  {100 * seconds / total:5.1f}%")

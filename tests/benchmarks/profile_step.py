"""Where the time goes in one training step (784-100x4-10 ReLU, batch 128, one BLAS thread), layer by
layer. Run: python tests/benchmarks/profile_step.py (timing wrappers add a little to each entry)."""

import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

import nncore

threadpool_limits(1, "blas")
for dt in (np.float64, np.float32):
    rng = np.random.default_rng(0)
    net = nncore.MLP([784, 100, 100, 100, 100, 10], rng, dtype=dt)
    opt = nncore.SGD()
    X = rng.random((128, 784)).astype(dt); T = rng.integers(0, 10, 128)
    acc = defaultdict(float); pc = time.perf_counter; N = 2000
    for it in range(N + 200):
        if it == 200: acc.clear()
        x = X
        for l in net.layers:
            t0 = pc(); x = l.forward(x, True); acc["forward " + type(l).__name__] += pc() - t0
        t0 = pc(); net.loss_layer.forward(x, T); d = net.loss_layer.backward(); acc["softmax-CE fwd+bwd"] += pc() - t0
        for i in range(len(net.layers) - 1, -1, -1):
            l = net.layers[i]; t0 = pc(); d = l.backward(d, need_dx=i > 0); acc["backward " + type(l).__name__] += pc() - t0
        t0 = pc(); opt.update(net.params, net.grads); acc["SGD update (axpy)"] += pc() - t0
    total = sum(acc.values())
    print(np.dtype(dt).name, f"total {total / N * 1e3:.3f} ms")
    for k, v in sorted(acc.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<22} {v / N * 1e6:8.1f} us  {100 * v / total:5.1f}%")

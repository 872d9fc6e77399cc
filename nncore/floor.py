"""The floor of a training step: its matrix products alone, back to back, in the step's order.

A step can never be faster than its products; step time / floor time says how much the rest
(activations, loss, bias sums, the optimizer) costs on top.
"""

import time

import numpy as np


def floor_products(net, batch):
    """A no-argument callable running the products of one training step of `net` at this batch
    size: every forward x @ W, then backwards each layer's x.T @ dout and dout @ W.T (none for
    the input layer, whose dx a step never needs). Arrays are preallocated in the net's dtype."""
    rng = np.random.default_rng(0)
    dt = net.dtype
    weights = [a.W for a in net.affines]
    xs = [rng.standard_normal((batch, W.shape[0])).astype(dt) for W in weights]
    outs = [np.empty((batch, W.shape[1]), dt) for W in weights]
    dWs = [np.empty_like(W) for W in weights]
    dxs = [np.empty_like(x) for x in xs]

    def run():
        for x, W, out in zip(xs, weights, outs):
            np.matmul(x, W, out=out)
        for i in range(len(weights) - 1, -1, -1):
            np.matmul(xs[i].T, outs[i], out=dWs[i])
            if i:
                np.matmul(outs[i], weights[i].T, out=dxs[i])

    return run


def seconds_per_call(fn, number):
    """Mean seconds of one call over `number` calls back to back."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def median_time(fn, repeat=50, number=20):
    """Median and interquartile range (seconds per call) over `repeat` timings of `number` calls."""
    fn()
    q1, med, q3 = np.percentile([seconds_per_call(fn, number) for _ in range(repeat)], [25, 50, 75])
    return float(med), float(q3 - q1)


def calls_for(fn, seconds):
    """How many calls of fn fill about `seconds` (at least 1), from one timed call after a warm-up."""
    fn()
    start = time.perf_counter()
    fn()
    return max(1, int(seconds / max(time.perf_counter() - start, 1e-9)))


def training_step(net, optimizer, x, t):
    """A no-argument callable doing one training step (gradient and update) on a fixed batch."""

    def step():
        _, grads = net.gradient(x, t)
        optimizer.update(net.params, grads)

    return step


def step_vs_floor(net, optimizer, x, t, repeat=50, number=20):
    """Median seconds of a training step and of its floor, their interquartile ranges and ratio,
    timed interleaved in this process so both see the same machine state. number=None sizes each
    timing to about 20 ms."""
    step, floor = training_step(net, optimizer, x, t), floor_products(net, x.shape[0])
    number = number or calls_for(step, 0.02)
    floor()  # calls_for warmed the step; warm the floor's arrays too
    step_times, floor_times = [], []
    for _ in range(repeat):
        step_times.append(seconds_per_call(step, number))
        floor_times.append(seconds_per_call(floor, number))
    (sq1, s, sq3), (fq1, f, fq3) = np.percentile(step_times, [25, 50, 75]), np.percentile(floor_times, [25, 50, 75])
    return {"step": float(s), "floor": float(f), "ratio": float(s / f), "step_iqr": float(sq3 - sq1),
            "floor_iqr": float(fq3 - fq1)}

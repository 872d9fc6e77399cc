"""Lion (EvoLved Sign Momentum; Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
arXiv:2302.06675, Algorithm 2) with nncore's optimizer interface: update(params, grads) changes the
parameter arrays in place. Every keyword argument has a default, so nnbench can make it and expose
each argument as a grid parameter (`--set beta1=0.95`)."""

import numpy as np


class Lion:
    """c = beta1*m + (1 - beta1)*g;  p -= lr * (sign(c) + weight_decay * p);  m = beta2*m + (1 - beta2)*g."""

    def __init__(self, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must be in [0, 1), got {beta1}, {beta2}")
        self.lr, self.beta1, self.beta2, self.weight_decay = lr, beta1, beta2, weight_decay
        self.m = {}

    def update(self, params, grads):
        for key, p in params.items():
            g = grads[key]
            m = self.m.setdefault(key, np.zeros_like(p))
            step = np.sign(self.beta1 * m + (1 - self.beta1) * g)
            if self.weight_decay:
                step += self.weight_decay * p
            p -= self.lr * step
            m *= self.beta2
            m += (1 - self.beta2) * g

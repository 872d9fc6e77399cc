"""Layers with forward and backward passes.

Every layer writes into buffers it owns and reuses them on the next call of the same batch size,
so a warm training step allocates nothing. The array a layer returns stays valid until that layer
runs again: copy it if you need to keep it. Parameters and gradients are plain arrays in
`params` and `grads`, keyed by short names ("W", "b", "gamma", "beta").
"""

import numpy as np

from nncore.buffers import Buffers, column_means, column_sums
from nncore.checks import fraction, positive


class Layer:
    """Base class: a layer without parameters."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self._buf = Buffers()

    def forward(self, x, train=False):
        raise NotImplementedError

    def backward(self, dout, need_dx=True):
        """Fill `self.grads` and return dL/dx (None when `need_dx` is False). May overwrite `dout`."""
        raise NotImplementedError

    def _out(self, name, like):
        return self._buf.get(name, like.shape, like.dtype)

    # What a forward pass leaves behind for backward: not part of a saved model.
    _TRANSIENT = ("x", "out", "xc", "inv_std", "scale", "mask")

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in self._TRANSIENT}
        state["_buf"] = Buffers()
        return state


class Affine(Layer):
    """y = x @ W + b, with W of shape (fan_in, fan_out)."""

    def __init__(self, W, b):
        super().__init__()
        self.W, self.b = W, b
        self.dW, self.db = np.zeros_like(W), np.zeros_like(b)
        self.params = {"W": W, "b": b}
        self.grads = {"W": self.dW, "b": self.db}
        self.x = None

    def forward(self, x, train=False):
        self.x = x
        out = self._buf.get("out", (x.shape[0], self.W.shape[1]), self.W.dtype)
        np.matmul(x, self.W, out=out)
        out += self.b
        return out

    def backward(self, dout, need_dx=True):
        np.matmul(self.x.T, dout, out=self.dW)
        np.matmul(column_sums(dout.shape[0], dout.dtype), dout, out=self.db)
        if not need_dx:
            return None
        dx = self._buf.get("dx", self.x.shape, self.W.dtype)
        return np.matmul(dout, self.W.T, out=dx)


class ReLU(Layer):
    def forward(self, x, train=False):
        out = self._out("out", x)
        np.maximum(x, 0, out=out)
        self.out = out
        return out

    def backward(self, dout, need_dx=True):
        # The output is positive exactly where the gradient passes: no separate mask is kept.
        return np.multiply(dout, self.out > 0, out=dout)


class Sigmoid(Layer):
    def forward(self, x, train=False):
        from scipy.special import expit  # ~0.2 s to import: paid by the nets that use a sigmoid only

        self.out = expit(x, out=self._out("out", x))
        return self.out

    def backward(self, dout, need_dx=True):
        dx = self._out("dx", dout)
        np.subtract(1, self.out, out=dx)
        dx *= self.out
        dx *= dout
        return dx


class Tanh(Layer):
    def forward(self, x, train=False):
        self.out = np.tanh(x, out=self._out("out", x))
        return self.out

    def backward(self, dout, need_dx=True):
        dx = self._out("dx", dout)
        np.square(self.out, out=dx)
        np.subtract(1, dx, out=dx)
        dx *= dout
        return dx


class BatchNorm(Layer):
    """Batch normalization over the rows: batch statistics in training, running averages in evaluation.

    Training keeps only the centred input xc and 1/std; out = xc * (gamma/std) + beta, so the
    forward makes four passes over the batch and the backward four, the rest being per-column vectors.
    """

    def __init__(self, gamma, beta, momentum=0.9, eps=1e-6):
        super().__init__()
        self.gamma, self.beta = gamma, beta
        self.dgamma, self.dbeta = np.zeros_like(gamma), np.zeros_like(beta)
        self.params = {"gamma": gamma, "beta": beta}
        self.grads = {"gamma": self.dgamma, "beta": self.dbeta}
        self.momentum, self.eps = fraction("momentum", momentum, closed=True), positive("eps", eps)
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.zeros_like(gamma)

    def forward(self, x, train=False):
        out = self._out("out", x)
        if not train:
            scale = self.gamma / np.sqrt(self.running_var + self.eps)
            np.subtract(x, self.running_mean, out=out)
            out *= scale
            out += self.beta
            return out
        n = x.shape[0]
        mean = np.matmul(column_means(n, x.dtype), x)
        xc = np.subtract(x, mean, out=self._out("xc", x))
        var = np.einsum("ij,ij->j", xc, xc)
        var *= 1.0 / n
        inv_std = 1.0 / np.sqrt(var + self.eps)
        self.scale = self.gamma * inv_std
        np.multiply(xc, self.scale, out=out)
        out += self.beta
        self.xc, self.inv_std = xc, inv_std
        m = self.momentum
        self.running_mean *= m
        self.running_mean += (1 - m) * mean
        self.running_var *= m
        self.running_var += (1 - m) * var
        return out

    def backward(self, dout, need_dx=True):
        n = dout.shape[0]
        xc, inv_std, scale = self.xc, self.inv_std, self.scale
        np.matmul(column_sums(n, dout.dtype), dout, out=self.dbeta)
        np.einsum("ij,ij->j", dout, xc, out=self.dgamma)
        self.dgamma *= inv_std
        # dx = scale * (dout - dbeta/n - xn * dgamma/n), with xn = xc * inv_std.
        dx = self._out("dx", dout)
        np.multiply(xc, inv_std * self.dgamma / n, out=dx)
        np.subtract(dout, dx, out=dx)
        dx *= scale
        dx -= scale * self.dbeta / n
        return dx


class Dropout(Layer):
    """Inverted dropout: zero each unit with probability `ratio` in training and scale the rest by
    1 / (1 - ratio), so evaluation is the identity. The mask comes from `rng`; `fixed_mask` keeps the
    last one (for gradient checks)."""

    def __init__(self, ratio, rng):
        super().__init__()
        self.ratio, self.rng = fraction("dropout ratio", ratio), rng
        self.fixed_mask = False
        self.mask = None

    def forward(self, x, train=False):
        if not train:
            return x
        if not (self.fixed_mask and self.mask is not None and self.mask.shape == x.shape):
            mask = self._out("mask", x)
            self.rng.random(out=mask, dtype=x.dtype)
            # u >= ratio keeps a unit; the kept ones carry the 1/(1-ratio) scale.
            np.greater_equal(mask, self.ratio, out=mask)
            mask *= 1.0 / (1.0 - self.ratio)
            self.mask = mask
        out = self._out("out", x)
        return np.multiply(x, self.mask, out=out)

    def backward(self, dout, need_dx=True):
        return np.multiply(dout, self.mask, out=dout)


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}

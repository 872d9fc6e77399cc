"""Optimizers with the book's defaults. Each owns its state, keyed by parameter name, and updates
the parameter arrays in place: `opt.update(params, grads)`.

Updates go through BLAS axpy (y += a * x in one pass, no temporary) wherever they can.
"""

from functools import cache

import numpy as np

from nncore.buffers import Buffers
from nncore.checks import fraction, positive


@cache
def _blas_axpy(dtype):
    """BLAS axpy for float64 and float32, None for other dtypes. scipy.linalg takes ~0.2 s to
    import, so it is loaded at the first update that needs it."""
    from threadpoolctl import ThreadpoolController

    before = {lib.filepath: lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers}
    from scipy.linalg import blas

    # scipy may bring a BLAS library of its own, which starts with one thread per core. A thread limit the
    # caller set (threadpoolctl limits only the libraries loaded when it is entered; a cell runs inside
    # one) would then not reach it, and two threads make a small axpy up to 30x slower: give the new
    # library the strictest limit in force on those already loaded.
    if before:
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
            if lib.filepath not in before:
                lib.set_num_threads(min(before.values()))
    return {np.float64: blas.daxpy, np.float32: blas.saxpy}.get(dtype.type)


# Below this many elements NumPy's `y += a * x` is as fast as a BLAS call (measured: ~1 µs either
# way at 100), so biases skip BLAS, and a process that only updates small arrays (XOR, toy nets)
# never imports scipy.linalg.
BLAS_MIN_SIZE = 512


def axpy(a, x, y):
    """y += a * x in place, for same-shaped arrays: BLAS axpy (one pass, no temporary) when both
    are contiguous, of one dtype and at least BLAS_MIN_SIZE elements, NumPy otherwise."""
    blas = y.size >= BLAS_MIN_SIZE and x.dtype == y.dtype and x.flags.c_contiguous and y.flags.c_contiguous
    fn = _blas_axpy(y.dtype) if blas else None
    if fn is None:
        y += a * x
    else:
        fn(x.reshape(-1), y.reshape(-1), a=a)


class Optimizer:
    def __init__(self, lr):
        self.lr = positive("lr", lr)
        self._buf = Buffers()

    def update(self, params, grads):
        raise NotImplementedError

    def _state(self, name, like):
        """Zero-initialized state array for one parameter, created on first use."""
        return self._buf.get(name, like.shape, like.dtype, zeros=True)


class SGD(Optimizer):
    def __init__(self, lr=0.01):
        super().__init__(lr)

    def update(self, params, grads):
        for key, p in params.items():
            axpy(-self.lr, grads[key], p)


class Momentum(Optimizer):
    """v = momentum * v - lr * g; p += v."""

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr)
        self.momentum = fraction("momentum", momentum)

    def update(self, params, grads):
        for key, p in params.items():
            v = self._state("v" + key, p)
            v *= self.momentum
            axpy(-self.lr, grads[key], v)
            p += v


class Nesterov(Optimizer):
    """Nesterov momentum in the book's form (Bengio et al. 2012, arXiv:1212.0901, eq. 7): the
    look-ahead folded into the parameter update, which moves with the velocity *before* this step:
    p += m*m*v - (1 + m)*lr*g; then v = m*v - lr*g."""

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr)
        self.momentum = fraction("momentum", momentum)

    def update(self, params, grads):
        m = self.momentum
        for key, p in params.items():
            g = grads[key]
            v = self._state("v" + key, p)
            axpy(m * m, v, p)
            axpy(-(1 + m) * self.lr, g, p)
            v *= m
            axpy(-self.lr, g, v)


class _Adaptive(Optimizer):
    """Shared last step of AdaGrad and RMSprop: p -= lr * g / (sqrt(h) + 1e-7)."""

    eps = 1e-7

    def _scaled_step(self, key, p, g, h):
        step = self._buf.get("step" + key, p.shape, p.dtype)
        np.sqrt(h, out=step)
        step += self.eps
        np.divide(g, step, out=step)
        axpy(-self.lr, step, p)


class AdaGrad(_Adaptive):
    """h += g * g; p -= lr * g / (sqrt(h) + 1e-7)."""

    def __init__(self, lr=0.01):
        super().__init__(lr)

    def update(self, params, grads):
        for key, p in params.items():
            g = grads[key]
            h = self._state("h" + key, p)
            sq = self._buf.get("sq" + key, p.shape, p.dtype)
            np.multiply(g, g, out=sq)
            h += sq
            self._scaled_step(key, p, g, h)


class RMSprop(_Adaptive):
    """h = decay * h + (1 - decay) * g * g; p -= lr * g / (sqrt(h) + 1e-7)."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr)
        self.decay_rate = fraction("decay_rate", decay_rate)

    def update(self, params, grads):
        for key, p in params.items():
            g = grads[key]
            h = self._state("h" + key, p)
            sq = self._buf.get("sq" + key, p.shape, p.dtype)
            np.multiply(g, g, out=sq)
            h *= self.decay_rate
            axpy(1 - self.decay_rate, sq, h)
            self._scaled_step(key, p, g, h)


class Adam(Optimizer):
    """Adam with bias correction folded into the step size: lr * sqrt(1 - b2^t) / (1 - b1^t)."""

    eps = 1e-7

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__(lr)
        self.beta1, self.beta2 = fraction("beta1", beta1), fraction("beta2", beta2)
        self.iter = 0

    def update(self, params, grads):
        self.iter += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * np.sqrt(1.0 - b2**self.iter) / (1.0 - b1**self.iter)
        for key, p in params.items():
            g = grads[key]
            m = self._state("m" + key, p)
            v = self._state("v" + key, p)
            tmp = self._buf.get("tmp" + key, p.shape, p.dtype)
            # m += (1 - b1) * (g - m); v += (1 - b2) * (g^2 - v)
            m *= b1
            axpy(1 - b1, g, m)
            np.multiply(g, g, out=tmp)
            v *= b2
            axpy(1 - b2, tmp, v)
            np.sqrt(v, out=tmp)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            axpy(-lr_t, tmp, p)


OPTIMIZERS = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov,
    "adagrad": AdaGrad, "rmsprop": RMSprop, "adam": Adam,
}


def make_optimizer(name, lr=None, **kwargs):
    """An optimizer by name (case-insensitive); lr=None keeps the book's default."""
    cls = OPTIMIZERS.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}: choose from {', '.join(OPTIMIZERS)}")
    if lr is not None:
        kwargs["lr"] = lr
    return cls(**kwargs)

"""The network builder: a multi-layer perceptron from layer sizes."""

import numpy as np

from nncore.checks import count, fraction, non_negative, positive
from nncore.init import init_bias, init_weights
from nncore.layers import ACTIVATIONS, Affine, BatchNorm, Dropout
from nncore.losses import LOSSES
from nncore.optimizers import axpy


class MLP:
    """Affine -> [BatchNorm] -> activation -> [Dropout], repeated, then a final Affine
    (and an optional output activation) into the loss.

    Parameters live in `params` ("W1", "b1", "gamma1", "beta1", ...) and their gradients, after
    `gradient`, in `grads` under the same names. `weight_decay` adds 0.5 * lambda * sum(W**2) over
    every W to the loss and lambda * W to its gradient.
    """

    def __init__(self, sizes, rng, activation="relu", init="he", bias=0.0, batchnorm=False,
                 dropout=0.0, loss="softmax_ce", output_activation=None, weight_decay=0.0,
                 dtype=np.float64):
        if len(sizes) < 2:
            raise ValueError("an MLP needs at least input and output sizes")
        for i, size in enumerate(sizes):
            count(f"sizes[{i}] (layer size)", size)
        fraction("dropout", dropout)
        non_negative("weight_decay", weight_decay)
        if not isinstance(init, (str, tuple, list)):
            positive("init (a weight std)", init)
        if np.dtype(dtype) not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {np.dtype(dtype)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: choose from {', '.join(ACTIVATIONS)}")
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}: choose from {', '.join(LOSSES)}")
        self.sizes = list(sizes)
        self.dtype = np.dtype(dtype)
        self.weight_decay = weight_decay
        self.layers, self.params, self.grads = [], {}, {}
        self.affines = []
        n_layers = len(sizes) - 1
        for i in range(n_layers):
            idx = i + 1
            W = init_weights(init, sizes[i], sizes[i + 1], rng, self.dtype)
            b = init_bias(bias, sizes[i + 1], rng, self.dtype)
            self._add(Affine(W, b), idx)
            self.affines.append(self.layers[-1])
            last = i == n_layers - 1
            if last:
                if output_activation is not None:
                    self.layers.append(ACTIVATIONS[output_activation]())
                break
            if batchnorm:
                width = sizes[i + 1]
                self._add(BatchNorm(np.ones(width, self.dtype), np.zeros(width, self.dtype)), idx)
            self.layers.append(ACTIVATIONS[activation]())
            if dropout:
                self.layers.append(Dropout(dropout, rng))
        self.loss_layer = LOSSES[loss]()

    def _add(self, layer, idx):
        self.layers.append(layer)
        for name, array in layer.params.items():
            self.params[f"{name}{idx}"] = array
            self.grads[f"{name}{idx}"] = layer.grads[name]

    @property
    def n_params(self):
        return sum(p.size for p in self.params.values())

    def forward(self, x, train=False):
        """Network outputs in the last layer's own buffer: no copy, valid until the next forward.
        For hot loops (batched inference); `predict` returns a copy."""
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def predict(self, x, train=False):
        """Network outputs (before the loss's softmax), as a new array."""
        return self.forward(x, train).copy()

    def _decay_loss(self):
        if not self.weight_decay:
            return 0.0
        return 0.5 * self.weight_decay * sum(float(np.vdot(a.W, a.W)) for a in self.affines)

    def loss(self, x, t, train=False):
        return self.loss_layer.forward(self.forward(x, train), t) + self._decay_loss()

    def gradient(self, x, t):
        """Loss and gradients of one training-mode forward and backward pass: (loss, grads)."""
        loss = self.loss_layer.forward(self.forward(x, True), t) + self._decay_loss()
        dout = self.loss_layer.backward()
        for i in range(len(self.layers) - 1, -1, -1):
            dout = self.layers[i].backward(dout, need_dx=i > 0)
        if self.weight_decay:
            for a in self.affines:
                axpy(self.weight_decay, a.W, a.dW)
        return loss, self.grads

    def accuracy(self, x, t, batch_size=2000):
        """Fraction of rows whose arg-max output matches the label (integer or one-hot), evaluated in
        chunks of `batch_size` rows (2000 by default): a chunk's BLAS products, and so the last bits of its
        outputs, depend on its size, so the default is part of what a stored accuracy means."""
        count("batch_size", batch_size)
        labels = t if t.ndim == 1 else t.argmax(axis=1)
        correct = 0
        for start in range(0, x.shape[0], batch_size):
            out = self.forward(x[start:start + batch_size], False)
            correct += int(np.count_nonzero(out.argmax(axis=1) == labels[start:start + batch_size]))
        return correct / x.shape[0]

    def set_params(self, values):
        """Copy arrays (e.g. a weights file's W1, b1, ...) into the parameters, checking shapes."""
        for name, value in values.items():
            if name not in self.params:
                raise ValueError(f"unknown parameter {name!r}: the network has {', '.join(self.params)}")
            value = np.asarray(value)
            if value.shape != self.params[name].shape:
                raise ValueError(f"{name} has shape {value.shape}, the network needs {self.params[name].shape}")
            np.copyto(self.params[name], value, casting="same_kind")

"""Numerical gradient checking by central differences."""

import numpy as np

from nncore.layers import Dropout


def numerical_gradient(f, x, h=1e-5):
    """d f / d x by central differences, perturbing `x` in place and restoring it."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def relative_error(a, b, floor=1e-4):
    """max over elements of |a - b| / max(|a| + |b|, floor).

    The floor keeps gradients that are truly zero (a bias feeding BatchNorm) from turning
    central-difference roundoff (~1e-11 at h=1e-5) into a relative error of 1; an element
    below the floor is judged by its absolute error scaled by 1 / floor.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = np.maximum(np.abs(a) + np.abs(b), floor)
    return float(np.max(np.abs(a - b) / denom))


def _freeze_dropout(layers):
    for layer in layers:
        if isinstance(layer, Dropout):
            layer.fixed_mask = True


def check_layer(layer, x, rng, train=True, h=1e-5):
    """Relative errors of a layer's backward against numerical gradients of sum(forward(x) * dout):
    a dict with "x" and one entry per parameter."""
    _freeze_dropout([layer])
    out = layer.forward(x, train)
    dout = rng.standard_normal(out.shape)

    def f():
        return float(np.sum(layer.forward(x, train) * dout))

    f()
    analytic = {"x": layer.backward(dout.copy()).copy()}
    analytic.update({k: g.copy() for k, g in layer.grads.items()})
    errors = {"x": relative_error(analytic["x"], numerical_gradient(f, x, h))}
    for name, p in layer.params.items():
        errors[name] = relative_error(analytic[name], numerical_gradient(f, p, h))
    return errors


def check_loss(loss, y, t, h=1e-5):
    """Relative error of a loss's backward against the numerical gradient of its forward."""
    loss.forward(y, t)
    analytic = loss.backward().copy()
    return relative_error(analytic, numerical_gradient(lambda: loss.forward(y, t), y, h))


def network_gradients(net, x, t, h=1e-5):
    """Backprop and numerical gradients of a whole network's training loss, per parameter:
    {name: (analytic, numerical)}. Dropout masks are held fixed between the two."""
    _freeze_dropout(net.layers)
    _, grads = net.gradient(x, t)
    analytic = {k: g.copy() for k, g in grads.items()}
    return {name: (analytic[name], numerical_gradient(lambda: net.loss(x, t, train=True), p, h))
            for name, p in net.params.items()}


def check_network(net, x, t, h=1e-5):
    """Relative error per parameter of a network's gradient() against numerical differentiation."""
    return {name: relative_error(a, n) for name, (a, n) in network_gradients(net, x, t, h).items()}

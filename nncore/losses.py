"""Losses: `forward(y, t)` returns the mean loss over the batch, `backward()` dL/dy."""

import numpy as np

from nncore.buffers import Buffers


class _Loss:
    def __getstate__(self):  # a saved model keeps no scratch arrays
        return {"_buf": Buffers()}


class SoftmaxCrossEntropy(_Loss):
    """Softmax followed by mean cross-entropy; labels as integers or one-hot rows.

    The log-probabilities come from a max-shifted log-sum-exp, so no input overflows and the
    loss is the exact derivative partner of the gradient (y - t) / batch.
    """

    def __init__(self):
        self._buf = Buffers()

    def forward(self, scores, t):
        n = scores.shape[0]
        y = self._buf.get("y", scores.shape, scores.dtype)
        np.subtract(scores, scores.max(axis=1, keepdims=True), out=y)  # shifted scores
        if t.ndim == 1:
            picked = y[np.arange(n), t].sum()
        else:
            picked = np.vdot(t, y)
        np.exp(y, out=y)
        total = y.sum(axis=1)
        y /= total[:, None]
        self.y, self.t = y, t
        # -log softmax_t = log(sum exp(shifted)) - shifted_t, averaged over the batch.
        return float((np.log(total).sum() - picked) / n)

    def backward(self):
        n = self.y.shape[0]
        dx = self._buf.get("dx", self.y.shape, self.y.dtype)
        if self.t.ndim == 1:
            np.copyto(dx, self.y)
            dx[np.arange(n), self.t] -= 1
        else:
            np.subtract(self.y, self.t, out=dx)
        dx *= 1.0 / n
        return dx


class MeanSquaredError(_Loss):
    """0.5 * squared error summed over outputs, mean over the batch."""

    def __init__(self):
        self._buf = Buffers()

    def forward(self, y, t):
        diff = self._buf.get("diff", y.shape, y.dtype)
        np.subtract(y, t, out=diff)
        self.diff = diff
        flat = diff.reshape(-1)
        return 0.5 * float(np.dot(flat, flat)) / y.shape[0]

    def backward(self):
        dx = self._buf.get("dx", self.diff.shape, self.diff.dtype)
        return np.multiply(self.diff, 1.0 / self.diff.shape[0], out=dx)


LOSSES = {"softmax_ce": SoftmaxCrossEntropy, "mse": MeanSquaredError}

"""The chapter's training loop in numpy with hand-derived gradients: the floor.

Same network, data and update as examples/train_mlp.py (100x3 inputs, 32 hidden units,
ReLU via clamp(min=0), mean squared error, SGD at lr 1e-4), but the backward pass is
written out by hand, so it costs nothing beyond the arithmetic. ember's target is to
run the autograd version at least as fast as this.
"""

from __future__ import annotations

import numpy as np


def train(x, y, w1, w2, b1, b2, iterations=200, learning_rate=1e-4):
    """Runs the loop in place on float32 arrays; returns the last loss."""
    n = x.shape[0]
    scale = np.float32(2.0 / (n * y.shape[1]))
    lr = np.float32(learning_rate)
    loss = None
    for _ in range(iterations):
        # forward: y_pred = clamp(x @ w1 + b1, min=0) @ w2 + b2
        h = x @ w1 + b1
        h_relu = np.maximum(h, 0)
        y_pred = h_relu @ w2 + b2
        diff = y_pred - y
        loss = np.mean(diff * diff)
        # backward: d loss / d y_pred = 2 * diff / numel
        g_pred = diff * scale
        g_w2 = h_relu.T @ g_pred
        g_b2 = g_pred.sum(axis=0, keepdims=True)
        g_h = (g_pred @ w2.T) * (h >= 0)  # clamp's gradient mask, as PyTorch's (x >= min)
        g_w1 = x.T @ g_h
        g_b1 = g_h.sum(axis=0, keepdims=True)
        # update
        w1 -= lr * g_w1
        w2 -= lr * g_w2
        b1 -= lr * g_b1
        b2 -= lr * g_b2
    return float(loss)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3)).astype(np.float32)
    y = (x[:, :1] * 0.2 - x[:, 1:2] * 1.3 - x[:, 2:3] * 0.5).astype(np.float32)
    w1 = rng.standard_normal((3, 32)).astype(np.float32)
    w2 = rng.standard_normal((32, 1)).astype(np.float32)
    b1 = np.zeros((1, 32), np.float32)
    b2 = np.zeros((1, 1), np.float32)
    print(f"final loss {train(x, y, w1, w2, b1, b2):.4f}")

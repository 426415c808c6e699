"""One iteration of examples/train_mlp.py's loop (without printing), for any library with
PyTorch's API (ember or torch): the shared body of chapter_loop.py and leak_check.py."""

from __future__ import annotations


def step(torch, x, y, w1, w2, b1, b2, learning_rate=1e-4):
    """Forward, loss, backward and the SGD update under no_grad; returns the loss tensor."""
    y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
    loss = (y_pred - y).pow(2).mean()
    loss.backward()
    with torch.no_grad():
        w1.sub_(learning_rate * w1.grad)
        w2.sub_(learning_rate * w2.grad)
        b1.sub_(learning_rate * b1.grad)
        b2.sub_(learning_rate * b2.grad)
        w1.grad.zero_()
        w2.grad.zero_()
        b1.grad.zero_()
        b2.grad.zero_()
    return loss

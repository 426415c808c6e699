"""Higher-order gradients on the chapter's network, and their memory.

backward(create_graph=True) leaves each parameter a .grad with history. In PyTorch that
history leads back to the parameter (through the AccumulateGrad node and the saved
parameter), a reference cycle that keeps every such parameter alive forever. ember's
saved tensors and AccumulateGrad nodes do not own the parameter, so dropping it frees it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import ember
import numpy as np
import pytest
import torch


def chapter_params(T, seed):
    g = np.random.default_rng(seed)
    arrays = [g.standard_normal(s) for s in [(100, 3), (3, 32), (1, 32), (32, 1), (1, 1), (100, 1)]]
    x, w1, b1, w2, b2, y = [T.tensor(a, dtype=T.float64) for a in arrays]
    for p in (w1, b1, w2, b2):
        p.requires_grad_()
    return x, y, [w1, b1, w2, b2]


def chapter_loss(x, y, params):
    w1, b1, w2, b2 = params
    y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
    return (y_pred - y).pow(2).mean()


def hvp(T, seed):
    """Gradient and Hessian-vector product of the chapter's loss w.r.t. its parameters."""
    x, y, params = chapter_params(T, seed)
    loss = chapter_loss(x, y, params)
    grads = T.autograd.grad(loss, params, create_graph=True)
    v = [T.ones_like(p) * 0.5 for p in params]
    dot = sum((g * vi).sum() for g, vi in zip(grads, v))
    hv = T.autograd.grad(dot, params)
    return [g.detach().numpy() for g in grads], [h.numpy() for h in hv]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_vector_product_matches_torch(seed):
    g_e, hv_e = hvp(ember, seed)
    g_t, hv_t = hvp(torch, seed)
    for a, b in zip(g_e + hv_e, g_t + hv_t):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_matches_finite_differences():
    # Hv = d/dt grad(params + t v) at t = 0, by central differences in float64.
    seed, eps = 3, 1e-6
    _, hv = hvp(ember, seed)

    def grads_at(t):
        x, y, params = chapter_params(ember, seed)
        with ember.no_grad():
            for p in params:
                p.add_(0.5 * t)
        loss = chapter_loss(x, y, params)
        return [g.numpy() for g in ember.autograd.grad(loss, params)]

    plus, minus = grads_at(eps), grads_at(-eps)
    for h, gp, gm in zip(hv, plus, minus):
        np.testing.assert_allclose(h, (gp - gm) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_third_derivative_through_backward():
    # x**3 at 2: 12, then 12 (6x), then 6, each from the previous gradient's graph.
    x = ember.tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    g1 = x.grad
    assert g1.item() == 12.0 and g1.requires_grad
    (g2,) = ember.autograd.grad(g1, x, create_graph=True)
    (g3,) = ember.autograd.grad(g2, x)
    assert (g2.item(), g3.item()) == (12.0, 6.0)


def test_dropped_parameter_is_freed_after_create_graph():
    # Keep the forward graph, drop the parameter: the AccumulateGrad node still
    # reachable from the graph no longer has a parameter to show.
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True, retain_graph=True)
    acc = y.grad_fn.next_functions[0][0].next_functions[0][0]
    assert acc.name() == "AccumulateGrad"
    assert acc.variable is x
    np.testing.assert_array_equal(x.grad.detach().numpy(), [3.0, 12.0])
    del x
    assert acc.variable is None


def test_unreferenced_leaf_still_gets_its_gradient():
    # Without create_graph the node owns its leaf, as in PyTorch.
    y = (ember.tensor([1.0, 2.0], requires_grad=True) * 3).sum()
    y.backward()
    leaf = y.grad_fn.next_functions[0][0].next_functions[0][0].variable
    np.testing.assert_array_equal(leaf.grad.numpy(), [3.0, 3.0])


LEAK_PROGRAM = textwrap.dedent(
    """
    import ember, sys

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    ember.manual_seed(0)
    x = ember.randn(100, 3)
    y = ember.randn(100, 1)
    n = int(sys.argv[1])
    for i in range(n):
        w1 = ember.randn(3, 32, requires_grad=True)
        b1 = ember.zeros(1, 32, requires_grad=True)
        w2 = ember.randn(32, 1, requires_grad=True)
        b2 = ember.zeros(1, 1, requires_grad=True)
        y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
        loss = (y_pred - y).pow(2).mean()
        loss.backward(create_graph=True)
        # a Hessian-vector product through the stored .grad, as meta-learning code does
        penalty = sum((p.grad ** 2).sum() for p in (w1, b1, w2, b2))
        penalty.backward()
        if i == n // 10:
            start = rss_mb()
    print(start, rss_mb())
    """
)


@pytest.mark.skipif("EMBER_ASAN_PKG" in os.environ, reason="under scripts/asan_pytest.sh RSS measures ASan's quarantine")
def test_create_graph_backward_does_not_leak():
    # 10^4 iterations, each with fresh parameters given a .grad with history; PyTorch
    # keeps every one of them alive. Run in a fresh process so the RSS is ember's alone.
    out = subprocess.run([sys.executable, "-c", LEAK_PROGRAM, "10000"], capture_output=True, text=True,
                         check=True, timeout=300)
    start, end = map(float, out.stdout.split())
    assert end <= start * 1.05, f"RSS grew from {start:.1f} MiB to {end:.1f} MiB over 9000 iterations"


# ---------------------------------------------------------------- saved tensors on nodes

SAVED_CASES = {
    # op on (x, w): (attribute, expected as a function of x, w, y) -- None where nothing was saved
    "mul": (lambda x, w: x * w.detach(), [("_saved_self", None), ("_saved_other", lambda x, w, y: w)]),
    "exp": (lambda x, w: x.exp(), [("_saved_result", lambda x, w, y: y)]),
    "sin": (lambda x, w: x.sin(), [("_saved_self", lambda x, w, y: x)]),
    "pow": (lambda x, w: x.pow(3), [("_saved_self", lambda x, w, y: x)]),
    "div": (lambda x, w: x / w, [("_saved_self", lambda x, w, y: x), ("_saved_other", lambda x, w, y: w)]),
    "mm": (lambda x, w: x.view(1, 3).mm(w.view(3, 1)), [("_saved_mat2", lambda x, w, y: w.view(3, 1))]),
}


@pytest.mark.parametrize("op", SAVED_CASES)
def test_saved_tensor_attributes_match_torch(op):
    fn, attrs = SAVED_CASES[op]
    for lib in (ember, torch):
        x = lib.tensor([0.5, 1.5, -2.0], requires_grad=True)
        w = lib.tensor([2.0, -1.0, 0.25], requires_grad=True)
        y = fn(x, w)
        for attr, want in attrs:
            got = getattr(y.grad_fn, attr)
            if want is None:
                assert got is None, (lib.__name__, attr)
            else:
                np.testing.assert_array_equal(got.detach().numpy(), want(x, w, y).detach().numpy())


def test_saved_leaf_is_the_leaf_and_saved_result_has_the_node():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    assert x.pow(2).grad_fn._saved_self is x  # as PyTorch
    y = x.exp()
    r = y.grad_fn._saved_result
    assert r is not y and r.grad_fn is y.grad_fn


def test_saved_tensor_errors_match_torch():
    for lib in (ember, torch):
        x = lib.ones(2, requires_grad=True)
        y = x.sin()
        with pytest.raises(AttributeError, match="'SinBackward0' object has no attribute '_saved_other'"):
            y.grad_fn._saved_other
        y.sum().backward()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            y.grad_fn._saved_self

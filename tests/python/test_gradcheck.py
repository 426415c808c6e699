"""gradcheck / gradgradcheck: every differentiable op passes both in float64, agreeing with
torch.autograd.gradcheck on the same functions; a wrong gradient is caught and the worst
element is named."""

import numpy as np
import pytest
import torch

import ember
from ember.autograd import GradcheckError, gradcheck, gradgradcheck

# (name, fn(L, *inputs), input shapes, positive_inputs)
OPS = [
    ("add", lambda L, a, b: a + b, [(2, 3), (3,)], False),
    ("sub_alpha", lambda L, a, b: L.sub(a, b, alpha=2), [(2, 3), (2, 3)], False),
    ("mul", lambda L, a, b: a * b, [(2, 3), (2, 1)], False),
    ("div", lambda L, a, b: a / b, [(2, 3), (2, 3)], True),
    ("pow_scalar", lambda L, a: a.pow(3), [(2, 3)], False),
    ("pow_tensor", lambda L, a, b: a.pow(b), [(2, 3), (2, 3)], True),
    ("rpow", lambda L, a: 2.0 ** a, [(4,)], False),
    ("rsub", lambda L, a: 2 - a, [(4,)], False),
    ("rdiv", lambda L, a: 2 / a, [(4,)], True),
    ("neg", lambda L, a: -a, [(3,)], False),
    ("exp", lambda L, a: a.exp(), [(2, 3)], False),
    ("log", lambda L, a: a.log(), [(2, 3)], True),
    ("sqrt", lambda L, a: a.sqrt(), [(2, 3)], True),
    ("tanh", lambda L, a: a.tanh(), [(2, 3)], False),
    ("sigmoid", lambda L, a: a.sigmoid(), [(2, 3)], False),
    ("relu", lambda L, a: a.relu(), [(2, 3)], False),
    ("abs", lambda L, a: a.abs(), [(2, 3)], False),
    ("sin", lambda L, a: a.sin(), [(2, 3)], False),
    ("cos", lambda L, a: a.cos(), [(2, 3)], False),
    ("reciprocal", lambda L, a: a.reciprocal(), [(2, 3)], True),
    ("clamp", lambda L, a: a.clamp(min=-0.5, max=0.5), [(3, 4)], False),
    ("clamp_tensor", lambda L, a, lo, hi: a.clamp(min=lo, max=hi - 5), [(3, 4), (3, 4), (3, 4)], False),
    ("maximum", lambda L, a, b: L.maximum(a, b), [(3, 4), (4,)], False),
    ("minimum", lambda L, a, b: L.minimum(a, b), [(3, 4), (4,)], False),
    ("where", lambda L, a, b: L.where(a > 0, a, b), [(3, 4), (3, 4)], False),
    ("sum", lambda L, a: a.sum(), [(2, 3)], False),
    ("sum_dim", lambda L, a: a.sum(dim=(0, 2), keepdim=True), [(2, 3, 2)], False),
    ("mean", lambda L, a: a.mean(), [(2, 3)], False),
    ("mean_dim", lambda L, a: a.mean(-1), [(2, 3)], False),
    ("max", lambda L, a: a.max(), [(2, 3)], False),
    ("max_dim", lambda L, a: a.max(dim=1)[0], [(2, 3)], False),
    ("min_dim", lambda L, a: a.min(dim=0, keepdim=True)[0], [(2, 3)], False),
    ("mm", lambda L, a, b: a.mm(b), [(2, 3), (3, 4)], False),
    ("mv", lambda L, a, b: a.mv(b), [(2, 3), (3,)], False),
    ("dot", lambda L, a, b: a.dot(b), [(3,), (3,)], False),
    ("bmm", lambda L, a, b: a.bmm(b), [(2, 2, 3), (2, 3, 2)], False),
    ("matmul_batched", lambda L, a, b: a @ b, [(2, 2, 3), (3, 2)], False),
    ("view_t", lambda L, a: a.t().reshape(-1) * 1.5, [(2, 3)], False),
    ("permute", lambda L, a: a.permute(2, 0, 1).sin(), [(2, 3, 2)], False),
    ("index", lambda L, a: a[1:, ::2].exp() * a[1:, 0].unsqueeze(1), [(3, 4)], False),
    ("expand", lambda L, a: a.expand(3, 4) * 2, [(1, 4)], False),
    ("squeeze", lambda L, a: a.squeeze().cos(), [(1, 3, 1)], False),
    ("chapter_mlp", lambda L, x, w1, b1, w2: (x.mm(w1).add(b1).clamp(min=0).mm(w2) - 1).pow(2).mean(),
     [(5, 3), (3, 4), (1, 4), (4, 1)], False),
]


def _inputs(L, shapes, positive, seed):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.standard_normal(s)
        if positive:
            a = np.abs(a) + 0.5
        else:
            a = np.where(np.abs(a) < 0.05, a + 0.2, a)  # stay off kinks (relu, abs, clamp)
        out.append(L.tensor(a, dtype=L.float64, requires_grad=True))
    return tuple(out)


@pytest.mark.parametrize("name,fn,shapes,positive", OPS, ids=[o[0] for o in OPS])
def test_gradcheck_and_gradgradcheck_agree_with_torch(name, fn, shapes, positive):
    e_in = _inputs(ember, shapes, positive, 0)
    t_in = _inputs(torch, shapes, positive, 0)
    assert gradcheck(lambda *a: fn(ember, *a), e_in) is True
    assert torch.autograd.gradcheck(lambda *a: fn(torch, *a), t_in)
    assert gradgradcheck(lambda *a: fn(ember, *a), e_in) is True
    assert torch.autograd.gradgradcheck(lambda *a: fn(torch, *a), t_in)


def test_wrong_gradient_is_caught_and_named():
    x = ember.tensor([[0.5, -1.0, 2.0]], dtype=ember.float64, requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a: a * a.detach(), (x,))
    msg = str(info.value)
    assert msg.startswith("Jacobian mismatch for output 0 with respect to input 0")
    # the worst element is x[0, 2]: numerical 4.0, analytical 2.0
    assert "d output[0][0, 2] / d input[0][0, 2]: numerical 4, analytical 2" in msg
    assert isinstance(info.value, RuntimeError)
    assert gradcheck(lambda a: a * a.detach(), (x,), raise_exception=False) is False
    tx = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    assert not torch.autograd.gradcheck(lambda a: a * a.detach(), (tx,), raise_exception=False)


def test_gradcheck_restores_inputs_and_needs_a_grad_input():
    x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    before = x.tolist()
    gradcheck(lambda a: a.exp(), (x,))
    assert x.tolist() == before
    with pytest.raises(ValueError):
        gradcheck(lambda a: a.exp(), (ember.tensor([1.0], dtype=ember.float64),))


def test_float32_inputs_warn():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda a: a * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)

"""Autograd semantics, each compared with PyTorch (a required test dependency: the import
is deliberately not guarded): accumulation, retain_grad, grad mode, leaves, detach,
broadcasting, diamonds, retain_graph, explicit gradients, autograd.grad/backward,
freeing of saved tensors, version counters, views, in-place ops in graphs, deep graphs,
garbage collection and threads."""

from __future__ import annotations

import gc
import threading
import warnings
import weakref

import ember
import numpy as np
import pytest
import torch

MODULES = [ember, torch]
NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be "
    "populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf "
    "Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
    "you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more informations."
)
INPLACE_MODIFIED = (
    "one of the variables needed for gradient computation has been modified by an inplace operation"
)
SECOND_BACKWARD = "Trying to backward through the graph a second time"


def np_(t):
    if t is None:
        return None
    return t.detach().numpy()


def same(fn, rtol=1e-6, atol=0.0):
    """Runs fn(ember) and fn(torch) and checks they return the same values."""
    e, t = fn(ember), fn(torch)
    if not isinstance(e, tuple):
        e, t = (e,), (t,)
    assert len(e) == len(t)
    for a, b in zip(e, t):
        if b is None or isinstance(b, (bool, int, float, str)):
            assert a == b
        else:
            assert type(a).__module__.startswith("ember"), type(a)
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_allclose(np_(a), np_(b), rtol=rtol, atol=atol)
    return e


# ---------------------------------------------------------------- accumulation and retain_grad


def test_grad_accumulates_across_backward_calls():
    def f(T):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        (a * a).sum().backward()
        g1 = a.grad.clone()
        (a * 3).sum().backward()
        (a.exp()).sum().backward()
        return g1, a.grad

    g1, _ = same(f)
    np.testing.assert_allclose(np_(g1), [2.0, 4.0])


def test_grad_zero_and_none_reset():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    (a * 2).sum().backward()
    a.grad.zero_()
    (a * 3).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])
    a.grad = None
    (a * 5).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [5.0, 5.0])


def test_grad_is_a_leaf_without_history():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward()
    assert a.grad.requires_grad is False
    assert a.grad.grad_fn is None
    assert a.grad.is_leaf


def test_grad_is_not_aliased_to_the_incoming_gradient():
    def f(T):
        a = T.ones(2, requires_grad=True)
        g = T.tensor([3.0, 4.0])
        (a * 1).backward(g)
        g.add_(1)  # must not change a.grad
        (a * 1).backward(g)
        return a.grad

    same(f)


def test_setting_grad_then_backward_accumulates_into_it():
    def f(T):
        a = T.ones(2, requires_grad=True)
        a.grad = T.ones(2) * 5
        (a * 2).sum().backward()
        return a.grad

    same(f)


def test_retain_grad():
    def f(T):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        b = a * 2
        b.retain_grad()
        c = b * b
        c.retain_grad()
        (c + b).sum().backward()
        return b.grad, c.grad, a.grad, b.retains_grad, a.retains_grad

    same(f)


def test_retain_grad_accumulates_and_leaf_retain_is_noop():
    def f(T):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        a.retain_grad()
        b = a * 3
        b.retain_grad()
        s = b.sum()
        s.backward(retain_graph=True)
        s.backward()
        return a.grad, b.grad, a.is_leaf

    same(f)


def test_reading_nonleaf_grad_warns_with_torchs_text():
    a = ember.ones(2, requires_grad=True)
    b = a * 2
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert b.grad is None
    assert len(w) == 1
    assert w[0].category is UserWarning
    assert str(w[0].message).startswith(NONLEAF_GRAD_WARNING[:120])
    # torch warns the same way
    with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):
        assert (torch.ones(2, requires_grad=True) * 2).grad is None


def test_no_warning_for_leaf_or_retained_grad():
    a = ember.ones(2, requires_grad=True)
    b = a * 2
    b.retain_grad()
    c = ember.ones(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert a.grad is None
        assert b.grad is None
        assert c.grad is None


# ---------------------------------------------------------------- grad mode


def test_no_grad_context_manager():
    a = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        assert not ember.is_grad_enabled()
        b = a * 2
    assert ember.is_grad_enabled()
    assert not b.requires_grad and b.grad_fn is None and b.is_leaf
    c = a * 2
    assert c.requires_grad


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError), ember.no_grad():
        raise ValueError("boom")
    assert ember.is_grad_enabled()


@pytest.mark.parametrize("T", MODULES, ids=lambda m: m.__name__)
def test_decorators(T):
    a = T.ones(2, requires_grad=True)

    @T.no_grad()
    def f(x):
        return x * 2

    @T.no_grad
    def f2(x):
        return x * 2

    @T.enable_grad()
    def g(x):
        return x * 2

    @T.set_grad_enabled(False)
    def h(x):
        return x * 2

    assert f.__name__ == "f"
    assert not f(a).requires_grad
    assert not f2(a).requires_grad
    assert not h(a).requires_grad
    assert T.is_grad_enabled()
    with T.no_grad():
        assert g(a).requires_grad
        assert not T.is_grad_enabled()


@pytest.mark.parametrize("T", MODULES, ids=lambda m: m.__name__)
def test_set_grad_enabled_as_call_and_context(T):
    a = T.ones(2, requires_grad=True)
    try:
        T.set_grad_enabled(False)
        assert not T.is_grad_enabled()
        assert not (a * 2).requires_grad
    finally:
        T.set_grad_enabled(True)
    assert T.is_grad_enabled()
    with T.set_grad_enabled(False):
        assert not (a * 2).requires_grad
    assert T.is_grad_enabled()
    with T.no_grad():
        with T.set_grad_enabled(True):
            assert (a * 2).requires_grad
        with T.enable_grad():
            assert (a * 2).requires_grad
        assert not T.is_grad_enabled()
    assert T.is_grad_enabled()


def test_nested_no_grad_and_enable_grad():
    a = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        with ember.no_grad():
            pass
        assert not ember.is_grad_enabled()
        with ember.enable_grad():
            b = a * 2
            with ember.no_grad():
                c = a * 2
        d = a * 2
    assert b.requires_grad and not c.requires_grad and not d.requires_grad


def test_grad_mode_is_thread_local():
    seen = {}

    def worker():
        seen["enabled"] = ember.is_grad_enabled()
        a = ember.ones(2, requires_grad=True)
        seen["records"] = (a * 2).requires_grad

    with ember.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not ember.is_grad_enabled()
    assert seen == {"enabled": True, "records": True}


def test_no_grad_in_thread_does_not_leak_to_main():
    flag = threading.Event()
    release = threading.Event()

    def worker():
        with ember.no_grad():
            flag.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    flag.wait(5)
    try:
        assert ember.is_grad_enabled()
    finally:
        release.set()
        t.join()


def test_inplace_update_under_no_grad_keeps_leaf():
    w = ember.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    with ember.no_grad():
        w.sub_(0.1 * w.grad)
        w -= 0.1 * w.grad
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_allclose(w.detach().numpy(), [0.6, 0.6, 0.6], rtol=1e-6)


# ---------------------------------------------------------------- leaves and requires_grad


def test_requires_grad_propagation():
    def f(T):
        a = T.ones(2, requires_grad=True)
        b = T.ones(2)
        c = a + b
        d = b * 2
        with T.no_grad():
            e = a * 2
        return (
            a.is_leaf,
            b.is_leaf,
            c.is_leaf,
            d.is_leaf,
            e.is_leaf,
            c.requires_grad,
            d.requires_grad,
            e.requires_grad,
            c.grad_fn is None,
            d.grad_fn is None,
            a.detach().requires_grad,
        )

    same(f)


def test_requires_grad_setter_and_requires_grad_():
    def f(T):
        a = T.ones(2)
        r = a.requires_grad_()
        before = a.requires_grad
        a.requires_grad_(False)
        mid = a.requires_grad
        a.requires_grad = True
        b = a * 2
        b.requires_grad_(True)  # allowed on a non-leaf that already requires grad
        return r is a, before, mid, a.requires_grad, b.requires_grad, b.is_leaf

    same(f)


@pytest.mark.parametrize("T", MODULES, ids=lambda m: m.__name__)
def test_requires_grad_on_non_leaf_raises(T):
    a = T.ones(2, requires_grad=True)
    b = a * 2
    with pytest.raises(
        RuntimeError, match="^you can only change requires_grad flags of leaf variables"
    ):
        b.requires_grad = False
    with pytest.raises(
        RuntimeError, match="^you can only change requires_grad flags of leaf variables"
    ):
        b.requires_grad_(False)
    with pytest.raises(
        RuntimeError, match="^you can only change requires_grad flags of leaf variables"
    ):
        b.requires_grad = True


def test_leaf_made_under_no_grad_from_leaf():
    a = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        b = a + 1
    b.requires_grad_()
    (b * b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [4.0, 4.0])
    assert a.grad is None


# ---------------------------------------------------------------- detach


def test_detach_shares_storage_and_version():
    def f(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        d = x.detach()
        with T.no_grad():
            d[0] = 5
        return x, d.requires_grad, d.is_leaf, d.grad_fn is None, x._version, d._version

    same(f)
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert d.data_ptr() == x.data_ptr()
    d.add_(1)
    np.testing.assert_array_equal(x.detach().numpy(), [2.0, 3.0])


def test_detach_cuts_the_graph():
    def f(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        z = y.detach() * x
        z.sum().backward()
        return x.grad

    same(f)


def test_data_attribute():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad
    assert d.data_ptr() == x.data_ptr()


# ---------------------------------------------------------------- broadcasting, diamonds


def test_broadcast_gradients_are_summed_back():
    def f(T):
        a = T.ones(3, 1, requires_grad=True)
        b = T.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        c = T.ones(1, 4, requires_grad=True)
        s = T.tensor(2.0, requires_grad=True)
        d = T.ones(2, 1, 1, requires_grad=True)
        out = ((a + b) * c * s - d) / (b + 1)
        out.sum().backward()
        return a.grad, b.grad, c.grad, s.grad, d.grad

    same(f, rtol=1e-6)


def test_broadcast_via_expand_and_scalar_ops():
    def f(T):
        a = T.tensor([[1.0], [2.0]], requires_grad=True)
        e = a.expand(2, 5)
        (e * T.arange(5).float()).sum().backward()
        return a.grad

    same(f)


def test_diamond():
    def f(T):
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * x
        z = y + y * y
        w = (z * y).sum() + y.sum()
        w.backward()
        return x.grad

    same(f)


def test_same_tensor_twice_as_operands():
    def f(T):
        x = T.tensor([1.0, -2.0, 3.0], requires_grad=True)
        (x * x + x.dot(x) + x.unsqueeze(0).mm(x.unsqueeze(1))).sum().backward()
        return x.grad

    same(f)


def test_leaf_used_by_two_branches_of_different_depth():
    def f(T):
        x = T.tensor([0.5, 1.5], requires_grad=True)
        a = x.exp().sin().tanh()
        b = x * 3
        (a * b).sum().backward()
        return x.grad

    same(f, rtol=1e-6)


# ---------------------------------------------------------------- retain_graph, explicit gradients


def test_retain_graph_allows_second_backward():
    def f(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x.exp()).sum()
        y.backward(retain_graph=True)
        y.backward(retain_graph=True)
        y.backward()
        return x.grad

    same(f)


def test_second_backward_without_retain_graph_raises():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="^" + SECOND_BACKWARD):
        y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])  # unchanged by the failed call


def test_backward_with_gradient_on_non_scalar():
    def f(T):
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * x
        y.backward(gradient=T.tensor([1.0, 10.0, 100.0]))
        w = T.ones(2, 3, requires_grad=True)
        (w * 3).backward(T.arange(6.0).reshape(2, 3))
        return x.grad, w.grad

    same(f)


def test_backward_gradient_dtype_and_scalar_gradient():
    def f(T):
        x = T.tensor(3.0, requires_grad=True)
        (x * x).backward(T.tensor(2.0))
        y = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        (y * 2).backward(T.tensor([1.0, 1.0], dtype=T.float64))
        return x.grad, y.grad

    same(f)


def test_backward_on_leaf_with_gradient():
    def f(T):
        a = T.ones(2, requires_grad=True)
        a.backward(T.tensor([3.0, 4.0]))
        return a.grad

    same(f)


# ---------------------------------------------------------------- autograd.grad / autograd.backward


def test_autograd_grad_does_not_touch_dot_grad():
    def f(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        w = T.tensor([3.0, 4.0], requires_grad=True)
        y = (x * w).sum()
        gx, gw = T.autograd.grad(y, [x, w])
        return gx, gw, x.grad, w.grad

    same(f)


def test_autograd_grad_allow_unused():
    def f(T):
        x = T.tensor(2.0, requires_grad=True)
        z = T.tensor(2.0, requires_grad=True)
        gx, gz = T.autograd.grad(x * 3, [x, z], allow_unused=True)
        return gx, gz

    same(f)


def test_autograd_grad_create_graph_second_derivative():
    for T in MODULES:
        x = T.tensor(2.0, requires_grad=True)
        y = x**3
        (g,) = T.autograd.grad(y, x, create_graph=True)
        assert g.item() == 12.0
        assert g.requires_grad and g.grad_fn is not None
        (g2,) = T.autograd.grad(g, x)
        assert g2.item() == 12.0
        assert x.grad is None


def test_autograd_grad_third_derivative_and_backward_through_grad():
    def f(T):
        x = T.tensor([0.5, 2.0], requires_grad=True)
        y = (x.sin() * x**3).sum()
        (g,) = T.autograd.grad(y, x, create_graph=True)
        (g2,) = T.autograd.grad(g.sum(), x, create_graph=True)
        g2.sum().backward()
        return g, g2, x.grad

    same(f, rtol=1e-5)


def test_autograd_grad_with_grad_outputs_and_retain_graph():
    def f(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        (g1,) = T.autograd.grad(y, x, grad_outputs=T.tensor([1.0, 0.5]), retain_graph=True)
        (g2,) = T.autograd.grad([y], [x], grad_outputs=[T.tensor([2.0, 2.0])])
        return g1, g2

    same(f)


def test_autograd_grad_frees_the_graph():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    ember.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="^" + SECOND_BACKWARD):
        ember.autograd.grad(y, x)


def test_autograd_backward():
    def f(T):
        x = T.tensor([2.0, 3.0], requires_grad=True)
        T.autograd.backward((x * x).sum())
        g1 = x.grad.clone()
        T.autograd.backward([x * 2, (x * x).sum()], [T.ones(2), None])
        return g1, x.grad

    same(f)


def test_backward_create_graph_double_backward():
    def f(T):
        x = T.tensor(2.0, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x**3).backward(create_graph=True)
        g = x.grad
        x.grad = None
        g.backward()
        return g.detach(), x.grad

    same(f)


def test_backward_inputs_is_not_supported_yet():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match="inputs"):
        (x * 2).sum().backward(inputs=[x])
    with pytest.raises(NotImplementedError, match="inputs"):
        ember.autograd.backward((x * 2).sum(), inputs=[x])


# ---------------------------------------------------------------- saved tensors and version counters


def test_saved_tensors_freed_after_backward():
    for op in (
        lambda x: x * x,
        lambda x: x.exp(),
        lambda x: x.pow(3),
        lambda x: x.mm(x.t()),
        lambda x: x.sigmoid(),
    ):
        x = ember.ones(2, 2, requires_grad=True)
        y = op(x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="^" + SECOND_BACKWARD):
            y.backward()


def test_modifying_saved_tensor_in_place_raises():
    for T in MODULES:
        a = T.ones(3, requires_grad=True)
        b = a * 2
        c = b * b  # saves b
        b.add_(1)
        assert b._version == 1
        with pytest.raises(RuntimeError, match="^" + INPLACE_MODIFIED) as info:
            c.sum().backward()
        msg = str(info.value)
        assert "[" + T.__name__ + ".FloatTensor [3]]" in msg
        assert "is at version 1; expected version 0 instead" in msg


def test_modifying_saved_output_in_place_raises():
    # exp saves its result
    for T in MODULES:
        a = T.ones(3, requires_grad=True)
        b = a.exp()
        b.mul_(2)
        with pytest.raises(RuntimeError, match="^" + INPLACE_MODIFIED):
            b.sum().backward()


def test_modifying_saved_leaf_under_no_grad_raises():
    for T in MODULES:
        w = T.ones(3, requires_grad=True)
        x = T.ones(3, requires_grad=True)
        y = (w * x).sum()  # saves both
        with T.no_grad():
            w.add_(1)
        with pytest.raises(RuntimeError, match="^" + INPLACE_MODIFIED):
            y.backward()


def test_modifying_saved_tensor_through_a_view_raises():
    for T in MODULES:
        a = T.ones(3, 2, requires_grad=True)
        b = a * 2
        v = b[0]
        c = v * v  # saves the view v
        b.add_(1)  # bumps the version shared by b and v
        assert v._version == b._version == 1
        with pytest.raises(RuntimeError, match="^" + INPLACE_MODIFIED):
            c.sum().backward()


def test_modifying_base_of_saved_input_through_view_of_leaf_data():
    for T in MODULES:
        x = T.ones(2, 3)
        w = T.ones(3, requires_grad=True)
        row = x[1]
        y = (row * w).sum()  # saves row (a view of x)
        x[1, 2] = 5.0  # in place on x: the view's version moves too
        with pytest.raises(RuntimeError, match="^" + INPLACE_MODIFIED):
            y.backward()


def test_in_place_on_unsaved_tensor_is_fine():
    def f(T):
        a = T.ones(3, requires_grad=True)
        b = a * 2
        c = b + 1  # add saves nothing
        b.add_(1)
        c.sum().backward()
        return a.grad

    same(f)


# ---------------------------------------------------------------- views share storage and version


def test_views_share_storage_and_version():
    def f(T):
        x = T.zeros(2, 3)
        views = [
            x[0],
            x.view(6),
            x.t(),
            x.reshape(3, 2),
            x[:, 1:],
            x.unsqueeze(0),
            x[..., None],
            x.transpose(0, 1),
            x.permute(1, 0),
            x.expand(4, 2, 3),
            x[0, ::2],
        ]
        x.add_(1)
        x[0].mul_(2)
        views[1][5] = 7.0
        return (x,) + tuple(v._version for v in views) + (x._version,)

    r = same(f)
    assert r[-1] == 3


def test_view_writes_are_visible_in_base():
    base = ember.arange(6.0)
    x = base.view(2, 3)
    assert x._base is base
    v = x[:, 1]
    v.fill_(-1)
    x.t()[2, 0] = 9
    np.testing.assert_array_equal(x.numpy(), [[0.0, -1.0, 9.0], [3.0, -1.0, 5.0]])
    assert v._base is base  # a view of a view records the original base, as in PyTorch
    assert x.view(6).data_ptr() == x.data_ptr()
    assert x[1].data_ptr() == x.data_ptr() + 3 * 4


def test_version_counts_each_in_place_op():
    x = ember.ones(3)
    assert x._version == 0
    x.add_(1)
    x.mul_(2)
    x.zero_()
    x.fill_(3)
    x += 1
    x[0] = 2
    x.copy_(ember.ones(3))
    x.clamp_(min=0)
    assert x._version == 8
    y = x + 1  # out-of-place: no bump
    assert x._version == 8 and y._version == 0


# ---------------------------------------------------------------- in-place ops inside graphs


def _add_mul(x):
    y = x * 2
    y.add_(1)
    y.mul_(x)
    return y


def _sub_div(x):
    y = x * x
    y.sub_(x, alpha=2)
    y.div_(3)
    return y


def _clamp_min(x):
    y = x * 1
    y.clamp_(min=1.5)
    return y


def _clamp_both(x):
    y = x + 0
    y.clamp_(-0.5, 2.5)
    y.mul_(2.0)
    return y


def _fill(x):
    y = x * 1
    y.fill_(2)
    return y * x


def _zero(x):
    y = x * 1
    y.zero_()
    return (y + 1) * x


def _copy(x):
    y = x * 1
    y.copy_(x * x)
    return y


def _operators(x):
    y = x * 1
    y += x
    y *= x
    y -= 1
    y /= x
    return y


def _mul_then_sigmoid(x):
    y = x.tanh() * 1
    y.mul_(3.0)
    y.add_(1)
    return y.sigmoid()


@pytest.mark.parametrize(
    "body",
    [
        _add_mul,
        _sub_div,
        _clamp_min,
        _clamp_both,
        _fill,
        _zero,
        _copy,
        _operators,
        _mul_then_sigmoid,
    ],
    ids=lambda f: f.__name__.lstrip("_"),
)
def test_in_place_on_non_leaf_gives_torchs_gradients(body):
    def f(T):
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        out = body(x)
        out.sum().backward()
        return out, x.grad, out.grad_fn is not None

    same(f, rtol=1e-5)


def test_in_place_records_the_ops_node_name():
    for T in MODULES:
        x = T.ones(2, requires_grad=True)
        y = x * 1
        y.add_(1)
        assert y.grad_fn.name() == "AddBackward0"
        y.mul_(2)
        assert y.grad_fn.name() == "MulBackward0"
        assert not y.is_leaf


def test_in_place_with_grad_operand_into_plain_tensor():
    def f(T):
        w = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = T.zeros(3)
        x.add_(w * 2)  # x joins the graph
        x.mul_(w)
        x.sum().backward()
        return w.grad, x.requires_grad, x.is_leaf

    same(f)


def test_in_place_on_view_of_graph_tensor_is_not_supported_yet():
    x = ember.ones(3, requires_grad=True)
    b = x * 2
    with pytest.raises(NotImplementedError, match="view"):
        b[0].mul_(3)
    np.testing.assert_array_equal(b.detach().numpy(), [2.0, 2.0, 2.0])  # untouched


def test_setitem_on_leaf_under_no_grad():
    def f(T):
        w = T.zeros(2, 3, requires_grad=True)
        with T.no_grad():
            w[0] = 1.0
            w[1, 1:] = T.tensor([2.0, 3.0])
        (w * w).sum().backward()
        return w, w.grad

    same(f)


# ---------------------------------------------------------------- deep graphs, gc, threads


def test_deep_chain_backward_and_deletion():
    x = ember.ones(2, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    y = x
    for _ in range(100_000):
        y = y + 1
    del y  # destroying a 1e5-node graph must not overflow the stack
    gc.collect()
    assert x.grad is not None


def test_deep_chain_with_retain_graph_and_autograd_grad():
    x = ember.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    (g,) = ember.autograd.grad(y, x, retain_graph=True)
    assert g.item() == pytest.approx(1.0001**20_000, rel=1e-3)
    y.backward()
    assert x.grad.item() == pytest.approx(g.item())


def test_graph_is_freed_once_output_is_dropped():
    arr = np.arange(4, dtype=np.float32)
    wr_arr = weakref.ref(arr)
    w = ember.ones(4, requires_grad=True)
    saved = ember.from_numpy(arr)  # only the graph will keep the array alive
    del arr
    y = (w * saved).exp()  # MulBackward saves `saved`
    node = y.grad_fn
    wr_node = weakref.ref(node)
    wr_y = weakref.ref(y)
    del saved, node
    gc.collect()
    assert wr_arr() is not None  # held by the graph
    del y
    gc.collect()
    assert wr_y() is None
    assert wr_node() is None
    assert wr_arr() is None  # the graph released its saved tensor
    assert w.grad is None


def test_saved_tensor_released_by_backward():
    arr = np.arange(4, dtype=np.float32)
    wr_arr = weakref.ref(arr)
    w = ember.ones(4, requires_grad=True)
    y = (w * ember.from_numpy(arr)).sum()
    del arr
    gc.collect()
    assert wr_arr() is not None
    y.backward()
    gc.collect()
    assert wr_arr() is None  # freed by backward although y is alive
    del y


def test_leaf_is_not_kept_alive_by_its_grad():
    x = ember.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    wr = weakref.ref(x)
    del x
    gc.collect()
    assert wr() is None


def _train_loop(seed: int, steps: int = 60):
    rng = np.random.default_rng(seed)
    x = ember.tensor(rng.standard_normal((32, 4)))
    y = ember.tensor(rng.standard_normal((32, 1)))
    w1 = ember.tensor(rng.standard_normal((4, 16)), requires_grad=True)
    w2 = ember.tensor(rng.standard_normal((16, 1)), requires_grad=True)
    losses = []
    for _ in range(steps):
        loss = (x.mm(w1).tanh().mm(w2) - y).pow(2).mean()
        losses.append(loss.item())
        loss.backward()
        with ember.no_grad():
            w1 -= 0.05 * w1.grad
            w2 -= 0.05 * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses, w1.detach().numpy().copy()


def test_two_threads_match_sequential_runs():
    expected = {s: _train_loop(s) for s in (1, 2)}
    results = {}
    errors = []

    def run(seed):
        try:
            results[seed] = _train_loop(seed)
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s in (1, 2):
        assert results[s][0] == expected[s][0]
        np.testing.assert_array_equal(results[s][1], expected[s][1])


# ---------------------------------------------------------------- clamp's gradient

# Inputs with NaN, +-0, infinities and values exactly on the bounds (the gradient passes
# there); bounds one-sided, crossed, NaN and integral.
_CLAMP_X = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, -0.5, 0.75, 1.0, -2.0, 0.3, 3.0, -0.25])
_CLAMP_BOUNDS = [
    dict(min=0),
    dict(max=0.75),
    dict(min=-0.5, max=0.75),
    dict(min=0.75, max=-0.5),
    dict(min=float("nan")),
    dict(min=-1, max=1),
]


def _masked_gradients(op, dtype, layout):
    """x.grad after op(x) in ember and torch: x from _CLAMP_X (and 1e5 values scaled from it
    for "large"), transposed or not, the incoming gradient with NaN, inf and -0 in it or
    broadcast (a sum's)."""
    rng = np.random.default_rng(3)
    n = 100_000 if layout == "large" else 48
    base = np.resize(_CLAMP_X, n) * np.where(rng.random(n) < 0.3, 1.0, rng.uniform(0.5, 1.5, n))
    base[: len(_CLAMP_X)] = _CLAMP_X
    base = base.astype(dtype).reshape(-1, 8)
    upstream = rng.standard_normal(base.shape).astype(dtype)
    upstream[0, :3] = [np.nan, np.inf, -0.0]
    grads = []
    for L in MODULES:
        x = L.tensor(base.T.copy() if layout == "transposed" else base, requires_grad=True)
        y = op(x.t() if layout == "transposed" else x)
        if layout == "sum":
            y.sum().backward()
        else:
            y.backward(L.tensor(upstream))
        grads.append(x.grad.numpy())
    return grads


_MASKED_LAYOUTS = ["contiguous", "transposed", "sum", "large"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bounds", _CLAMP_BOUNDS, ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()))
@pytest.mark.parametrize("layout", _MASKED_LAYOUTS)
def test_clamp_gradient_matches_torch(dtype, bounds, layout):
    """clamp's gradient (one kernel pass outside create_graph) equals torch's bit for bit:
    the incoming gradient where the input lies within the bounds (on them too), 0 elsewhere
    and where the input or a bound is NaN. Layouts: a transposed input and gradient, a
    broadcast gradient (sum's), and 10^5 elements (the vector loop and both threads)."""
    e, t = _masked_gradients(lambda x: x.clamp(**bounds), dtype, layout)
    assert e.dtype == t.dtype and e.tobytes() == t.tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", _MASKED_LAYOUTS)
def test_relu_gradient_matches_torch(dtype, layout):
    """relu's gradient (threshold_backward, one kernel pass outside create_graph) equals
    torch's bit for bit: 0 where the result is <= 0 (at x = 0 too), the incoming gradient
    elsewhere, NaN inputs included (their NaN result passes it)."""
    e, t = _masked_gradients(lambda x: x.relu(), dtype, layout)
    assert e.dtype == t.dtype and e.tobytes() == t.tobytes()


@pytest.mark.parametrize("op", ["clamp", "relu"])
def test_masked_gradient_under_create_graph_has_a_graph(op):
    """With create_graph the gradient is built from differentiable ops (where), so it can
    be differentiated again; its values equal the fused kernel's."""
    x0 = np.array([-1.5, -0.2, 0.0, 0.4, 2.0, 0.75])
    f = (lambda x: x.clamp(-0.5, 0.75)) if op == "clamp" else (lambda x: x.relu())
    out = {}
    for L in MODULES:
        x = L.tensor(x0, requires_grad=True)
        w = L.tensor(np.arange(6.0), requires_grad=True)
        (gx,) = L.autograd.grad((f(x) * w).sum(), x, create_graph=True)
        assert gx.grad_fn is not None
        gx.pow(2).sum().backward()
        out[L] = (gx.detach().numpy(), w.grad.numpy())
        x2 = L.tensor(x0, requires_grad=True)
        (f(x2) * w.detach()).sum().backward()
        np.testing.assert_array_equal(x2.grad.numpy(), out[L][0])
    for a, b in zip(out[ember], out[torch]):
        np.testing.assert_array_equal(a, b)

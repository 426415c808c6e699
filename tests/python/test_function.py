"""ember.autograd.Function against torch.autograd.Function: values, node names, graph
structure, saved tensors (version checks, freeing), and errors."""

import gc
import weakref

import ember
import numpy as np
import pytest
import torch


def define(lib):
    """The same custom Functions, defined on lib.autograd.Function."""
    F = lib.autograd.Function

    class Exp(F):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class ScaleAdd(F):  # x * k + b, with a Python number k
        @staticmethod
        def forward(ctx, x, k, b):
            ctx.k = k
            ctx.save_for_backward(x, b)
            return x * k + b

        @staticmethod
        def backward(ctx, g):
            _x, _b = ctx.saved_tensors  # unpacking checks their versions
            ctx.seen = ctx.needs_input_grad
            gx = g * ctx.k if ctx.needs_input_grad[0] else None
            gb = g if ctx.needs_input_grad[2] else None
            return gx, None, gb

    class MulBoth(F):  # two outputs
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b, a + b

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            a, b = ctx.saved_tensors
            return g_prod * b + g_sum, g_prod * a + g_sum

    class ArgmaxAndDouble(F):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            ctx.g_idx = g_idx
            return g * 2

    class Identity(F):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class Cube(F):  # backward built from differentiable ops: double backward works
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    class SetupCtx(F):  # forward without ctx, setup_context separately
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    return {"Exp": Exp, "ScaleAdd": ScaleAdd, "MulBoth": MulBoth, "ArgmaxAndDouble": ArgmaxAndDouble,
            "Identity": Identity, "Cube": Cube, "SetupCtx": SetupCtx}


FNS = {ember: define(ember), torch: define(torch)}


def both(fn):
    return fn(ember, FNS[ember]), fn(torch, FNS[torch])


def nm(node):
    """A node's name; torch prefixes its C++ nodes' names with the namespace."""
    return None if node is None else node.name().replace("torch::autograd::", "")


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_exp_values_name_and_next_functions():
    def run(lib, F):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = F["Exp"].apply(x)
        z = (y * 2).sum()
        z.backward()
        nf = z.grad_fn.next_functions[0][0].next_functions
        return (y.tolist(), x.grad.tolist(), y.grad_fn.name(), type(y.grad_fn).__name__,
                [(nm(f), n) for f, n in y.grad_fn.next_functions],
                nf[0][0].name(), nf[0][0] is y.grad_fn)

    e, t = both(run)
    close(e[0], t[0])
    close(e[1], t[1])
    assert e[2:] == t[2:]
    assert e[2] == "ExpBackward"


def test_grad_fn_repr_and_identity():
    x = ember.ones(2, requires_grad=True)
    y = FNS[ember]["Exp"].apply(x)
    assert y.grad_fn is y.grad_fn
    assert repr(y.grad_fn).startswith("<ember.autograd.function.ExpBackward object at 0x")
    assert "grad_fn=<ExpBackward>" in repr(y)


def test_non_tensor_args_get_no_edge_and_needs_input_grad():
    def run(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([0.5, 0.5])  # does not require grad
        y = F["ScaleAdd"].apply(x, 3.0, b)
        y.sum().backward()
        edges = [(nm(f), n) for f, n in y.grad_fn.next_functions]
        return y.tolist(), x.grad.tolist(), edges, y.grad_fn.seen

    e, t = both(run)
    assert e == t
    assert e[2] == [("AccumulateGrad", 0), (None, 0)]
    assert e[3] == (True, False, False)


def test_two_outputs_and_output_nr():
    def run(lib, F):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        p, s = F["MulBoth"].apply(a, b)
        (p.sum() * 2 + s.sum()).backward()
        return p.output_nr, s.output_nr, p.grad_fn is s.grad_fn, a.grad.tolist(), b.grad.tolist()

    e, t = both(run)
    assert e == t


def test_only_one_output_used_gets_zero_for_the_other():
    def run(lib, F):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        p, _ = F["MulBoth"].apply(a, b)
        p.sum().backward()
        return a.grad.tolist(), b.grad.tolist()

    e, t = both(run)
    assert e == t


def test_mark_non_differentiable():
    def run(lib, F):
        x = lib.tensor([1.0, 5.0, 2.0], requires_grad=True)
        y, idx = F["ArgmaxAndDouble"].apply(x)
        y.sum().backward()
        return (idx.requires_grad, idx.grad_fn is None, y.requires_grad, x.grad.tolist(),
                y.grad_fn.g_idx.tolist(), str(y.grad_fn.g_idx.dtype).split(".")[-1])

    e, t = both(run)
    assert e == t


def test_identity_returns_a_view_not_the_input():
    def run(lib, F):
        x = lib.ones(2, requires_grad=True)
        y = F["Identity"].apply(x)
        y.sum().backward()
        return y is x, y._base is x, y.grad_fn.name(), x.grad.tolist()

    e, t = both(run)
    assert e == t == (False, True, "IdentityBackward", [1.0, 1.0])


def test_double_backward_through_function():
    def run(lib, F):
        x = lib.tensor(2.0, requires_grad=True)
        y = F["Cube"].apply(x)
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (gg,) = lib.autograd.grad(g, x)
        return y.item(), g.item(), gg.item()

    e, t = both(run)
    assert e == t == (8.0, 12.0, 12.0)


def test_setup_context_style():
    def run(lib, F):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = F["SetupCtx"].apply(x, 4.0)
        y.sum().backward()
        return y.tolist(), x.grad.tolist(), y.grad_fn.name()

    e, t = both(run)
    assert e == t


def test_no_grad_and_no_input_requiring_grad_record_nothing():
    def run(lib, F):
        x = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            y = F["Exp"].apply(x)
        z = F["Exp"].apply(lib.ones(2))
        return y.requires_grad, y.grad_fn, z.requires_grad, z.grad_fn

    e, t = both(run)
    assert e == t == (False, None, False, None)


def test_function_in_a_larger_graph_and_hooks_on_it():
    def run(lib, F):
        log = []
        x = lib.tensor([0.1, 0.2], requires_grad=True)
        h = x * 3
        y = F["Exp"].apply(h)
        y.grad_fn.register_prehook(lambda go: log.append(("pre", go[0].tolist())))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", gi[0].tolist())))
        y.register_hook(lambda g: log.append(("t", g.tolist())))
        y.sum().backward()
        return log, x.grad.tolist()

    e, t = both(run)
    assert [k[0] for k in e[0]] == [k[0] for k in t[0]]
    for (_, a), (_, b) in zip(e[0], t[0]):
        close(a, b)
    close(e[1], t[1])


# ---------------------------------------------------------------- saved tensors


def test_saved_output_modified_in_place():
    def run(lib, F):
        x = lib.ones(2, requires_grad=True)
        y = F["Exp"].apply(x)
        y.add_(1)
        y.sum().backward()

    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="modified by an inplace operation") as info:
            run(lib, FNS[lib])
        assert "is at version 1; expected version 0 instead" in str(info.value)


def test_saved_input_modified_in_place():
    def run(lib, F):
        x = lib.ones(2, requires_grad=True)
        a = x * 1
        y = F["Cube"].apply(a)
        with lib.no_grad():
            a.mul_(2)
        y.sum().backward()

    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            run(lib, FNS[lib])


def test_saved_tensors_freed_after_backward():
    def run(lib, F):
        x = lib.ones(2, requires_grad=True)
        y = F["Exp"].apply(x)
        y.sum().backward()
        _ = y.grad_fn.saved_tensors

    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            run(lib, FNS[lib])


def test_saved_tensors_kept_with_retain_graph():
    def run(lib, F):
        x = lib.ones(2, requires_grad=True)
        y = F["Exp"].apply(x)
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        return x.grad.tolist()

    e, t = both(run)
    close(e, t)


# ---------------------------------------------------------------- errors


def error_pair(backward_result, forward=None):
    out = []
    for lib in (ember, torch):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                if forward:
                    forward(ctx, x)
                return x * k

            @staticmethod
            def backward(ctx, g):
                return backward_result(lib, g)  # noqa: B023 (called within this iteration)

        x = lib.ones(3, requires_grad=True)
        with pytest.raises(Exception) as info:
            Bad.apply(x, 2.0).sum().backward()
        out.append(info.value)
    return out


def test_too_few_gradients():
    e, t = error_pair(lambda lib, g: g)
    assert type(e) is type(t) is RuntimeError
    assert str(e) == str(t) == "function BadBackward returned an incorrect number of gradients (expected 2, got 1)"


def test_too_many_gradients():
    e, t = error_pair(lambda lib, g: (g, None, g))
    assert type(e) is type(t) is RuntimeError
    assert str(e) == str(t)


def test_extra_none_gradients_are_allowed():
    for lib in (ember, torch):
        class Ok(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g, None, None

        x = lib.ones(3, requires_grad=True)
        Ok.apply(x, 2.0).sum().backward()
        assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_gradient_for_non_tensor_input():
    e, t = error_pair(lambda lib, g: (g, 1.0))
    assert type(e) is type(t) is RuntimeError
    assert str(e) == str(t)


def test_gradient_of_wrong_type():
    e, t = error_pair(lambda lib, g: (3, None))
    assert type(e) is type(t) is RuntimeError
    assert str(e) == str(t) == "expected Variable or None (got int)"


def test_gradient_of_wrong_shape():
    e, t = error_pair(lambda lib, g: (lib.ones(5), None))
    assert type(e) is type(t) is RuntimeError
    assert str(e) == str(t)
    assert str(e).startswith("Function BadBackward returned an invalid gradient at index 0")


def test_save_for_backward_non_tensor():
    e, t = error_pair(lambda lib, g: (g, None), forward=lambda ctx, x: ctx.save_for_backward(x, 3))
    assert type(e) is type(t) is TypeError
    assert str(e) == str(t)


def test_exception_in_backward_propagates():
    for lib in (ember, torch):
        class Boom(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

            @staticmethod
            def backward(ctx, g):
                raise ZeroDivisionError("boom")

        x = lib.ones(2, requires_grad=True)
        with pytest.raises(ZeroDivisionError, match="boom"):
            Boom.apply(x).sum().backward()
        assert x.grad is None


def test_broadcast_gradient_is_reduced():
    def run(lib, F):
        x = lib.ones(3, requires_grad=True)

        class Wide(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g.expand(4, 3) if hasattr(g, "expand") else g

        Wide.apply(x).sum().backward()
        return x.grad.tolist()

    e, t = both(run)
    assert e == t


# ---------------------------------------------------------------- no leaks


def test_ctx_holding_its_output_is_collected():
    class Keep(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.y = y
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    def make():
        x = ember.ones(2, requires_grad=True)
        y = Keep.apply(x)
        return weakref.ref(y), weakref.ref(y.grad_fn)

    ry, rctx = make()
    gc.collect()
    assert ry() is None and rctx() is None


def test_ctx_freed_with_graph():
    def make():
        x = ember.ones(2, requires_grad=True)
        y = FNS[ember]["Exp"].apply(x)
        y.sum().backward()
        return weakref.ref(y.grad_fn)

    r = make()
    assert r() is None  # no cycle: freed by reference counting alone


def test_double_backward_through_saved_output():
    def run(lib, F):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        y = F["Exp"].apply(x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return g.tolist(), gg.tolist()

    e, t = both(run)
    close(e, t)


def test_gradcheck_on_custom_functions():
    x = ember.tensor([0.3, -0.7, 1.1], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(FNS[ember]["Exp"].apply, (x,))
    assert ember.autograd.gradcheck(FNS[ember]["Cube"].apply, (x,))
    assert ember.autograd.gradgradcheck(FNS[ember]["Cube"].apply, (x,))


# ---------------------------------------------------------------- mark_dirty


def _inplace_functions(lib):
    class MulThreeInplace(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(3)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3

    class DirtyNotReturned(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    return MulThreeInplace, DirtyNotReturned


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_mark_dirty_returns_the_input_with_new_history(lib):
    MulThreeInplace, _ = _inplace_functions(lib)
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    version = b._version
    c = MulThreeInplace.apply(b)
    assert c is b
    assert type(b.grad_fn).__name__ == "MulThreeInplaceBackward"
    assert b._version == version + 2  # mul_ in forward, then mark_dirty (as PyTorch counts)
    assert b.grad_fn.next_functions[0][0].name() == "MulBackward0"
    (c * c).sum().backward()
    assert a.grad.tolist() == [72.0, 144.0]  # d/da (6a)^2 = 72a


def test_mark_dirty_matches_torch_values():
    res = []
    for lib in (ember, torch):
        MulThreeInplace, _ = _inplace_functions(lib)
        a = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
        b = a.sin()  # saves a, not b: writing b in place is allowed
        out = MulThreeInplace.apply(b).exp().sum()
        out.backward()
        res.append((out.item(), a.grad.tolist()))
    assert res[0][0] == pytest.approx(res[1][0], rel=1e-6)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-6)


@pytest.mark.parametrize("case", ["leaf", "not-returned"])
def test_mark_dirty_errors_match_torch(case):
    msgs = []
    for lib in (ember, torch):
        MulThreeInplace, DirtyNotReturned = _inplace_functions(lib)
        a = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError) as e:
            if case == "leaf":
                MulThreeInplace.apply(a)
            else:
                DirtyNotReturned.apply(a * 1)
        msgs.append(str(e.value))
    assert msgs[0].startswith(msgs[1])


def test_saved_tensors_are_the_callers_tensors():
    # As in PyTorch: a saved input comes back as the very tensor object that was saved.
    seen = {}
    for lib in (ember, torch):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.save_for_backward(x, w)
                return x * w

            @staticmethod
            def backward(ctx, g):
                x, w = ctx.saved_tensors
                seen[lib.__name__] = (x is x_in, w is w_in)
                return g * w, g * x

        x_in = lib.tensor([1.0, 2.0], requires_grad=True)
        w_in = lib.tensor([3.0, 4.0], requires_grad=True) * 1
        Scale.apply(x_in, w_in).sum().backward()
    assert seen["ember"] == seen["torch"] == (True, True)

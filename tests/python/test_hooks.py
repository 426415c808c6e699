"""Tensor and node hooks against PyTorch: values, call order, errors, removal, and the
absence of leaks (hooks that refer to their own tensor are collected)."""

import gc
import threading
import weakref

import ember
import numpy as np
import pytest
import torch


def both(fn):
    """Runs fn(lib) with ember and with torch; returns (ember_result, torch_result)."""
    return fn(ember), fn(torch)


def tolist(v):
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return [tolist(e) for e in v]
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def errors(fn):
    """Runs fn(lib) for both libraries, expecting an error; returns (ember_exc, torch_exc)."""
    out = []
    for lib in (ember, torch):
        with pytest.raises(Exception) as info:
            fn(lib)
        out.append(info.value)
    return out


# ---------------------------------------------------------------- Tensor.register_hook


def test_call_order_all_hook_kinds():
    def run(lib):
        log = []
        x = lib.ones(2, requires_grad=True)
        y = x * 3
        y.retain_grad()
        y.register_hook(lambda g: log.append(("t1", g.tolist())) or g * 2)
        y.grad_fn.register_prehook(lambda go: log.append(("pre", tolist(go))))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", tolist(gi), tolist(go))))
        y.register_hook(lambda g: log.append(("t2", g.tolist())))
        x.register_hook(lambda g: log.append(("leaf", g.tolist())))
        x.register_post_accumulate_grad_hook(lambda p: log.append(("postacc", p.grad.tolist())))
        y.sum().backward()
        return log, y.grad.tolist(), x.grad.tolist()

    e, t = both(run)
    assert e == t
    assert [k[0] for k in e[0]] == ["t1", "t2", "pre", "post", "leaf", "postacc"]


def test_leaf_hook_replaces_before_accumulation():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: g * 10)
        (x * x).sum().backward()
        (x * x).sum().backward()
        return x.grad.tolist()

    e, t = both(run)
    assert e == t == [40.0, 80.0]


def test_hooks_chain_in_registration_order():
    def run(lib):
        seen = []
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: g + 1)
        y.register_hook(lambda g: seen.append(g.tolist()) or g * 3)
        y.sum().backward()
        return seen, x.grad.tolist()

    e, t = both(run)
    assert e == t


def test_hook_on_shared_leaf_sees_summed_gradient():
    def run(lib):
        seen = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: seen.append(g.tolist()))
        (x * 2 + x * x).sum().backward()
        return seen, x.grad.tolist()

    e, t = both(run)
    assert e == t
    assert len(e[0]) == 1


def test_hook_with_autograd_grad_and_create_graph():
    def run(lib):
        x = lib.tensor(2.0, requires_grad=True)
        x.register_hook(lambda g: g * 2)
        (g,) = lib.autograd.grad(x**3, x, create_graph=True)
        (gg,) = lib.autograd.grad(g, x)
        return g.item(), gg.item()

    e, t = both(run)
    assert e == t == (24.0, 48.0)  # the hook doubles the captured gradient both times


def test_handle_remove_and_context_manager():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        h = x.register_hook(lambda g: g * 0)
        h.remove()
        h.remove()  # twice is fine
        with x.register_hook(lambda g: g * 5):
            (x * 1).sum().backward()
        (x * 1).sum().backward()
        y = x * 2
        h2 = y.register_hook(lambda g: g * 100)
        h2.remove()
        y.sum().backward()
        return x.grad.tolist()

    e, t = both(run)
    assert e == t == [8.0, 8.0]


def test_hook_removing_itself_while_running():
    def run(lib):
        calls = []
        x = lib.ones(2, requires_grad=True)
        handle = []

        def once(g):
            calls.append(1)
            handle[0].remove()

        handle.append(x.register_hook(once))
        (x * 2).sum().backward()
        (x * 2).sum().backward()
        return len(calls)

    e, t = both(run)
    assert e == t == 1


@pytest.mark.parametrize("kind", ["size", "type", "notensor"])
def test_hook_result_errors(kind):
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        y = x * 2

        def h(g):
            if kind == "size":
                return lib.ones(3)
            if kind == "type":
                return g.double()
            return 3

        y.register_hook(h)
        y.sum().backward()

    e, t = errors(run)
    assert type(e) is type(t)
    if kind == "size":  # ember adds the two shapes
        assert str(t) == "hook 'h' has changed the size of value"
        assert str(e) == "hook 'h' has changed the size of value (was [2], got [3])"
    elif kind == "type":
        assert str(e) == "hook 'h' has changed the type of value (was ember.FloatTensor got ember.DoubleTensor)"
        assert str(t) == "hook 'h' has changed the type of value (was torch.FloatTensor got torch.DoubleTensor)"
    else:
        assert str(e) == str(t) == "expected Variable, but hook returned 'int'"


def test_register_on_tensor_without_grad():
    e, t = errors(lambda lib: lib.ones(2).register_hook(lambda g: g))
    assert type(e) is type(t) is RuntimeError
    assert str(e) == str(t)


def test_hook_exception_propagates_and_graph_stays_usable():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        z = y.sum()

        def boom(g):
            raise ValueError("boom")

        h = y.register_hook(boom)
        with pytest.raises(ValueError, match="boom"):
            z.backward(retain_graph=True)
        grad_after_error = x.grad
        h.remove()
        z.backward()
        return grad_after_error, x.grad.tolist()

    e, t = both(run)
    assert e == t == (None, [2.0, 2.0])


@pytest.mark.parametrize("register", ["prehook", "post", "leaf", "postacc"])
def test_hook_exception_in_node_and_leaf_hooks(register):
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        y = x * 2

        def boom(*a):
            raise KeyError(register)

        if register == "prehook":
            y.grad_fn.register_prehook(boom)
        elif register == "post":
            y.grad_fn.register_hook(boom)
        elif register == "leaf":
            x.register_hook(boom)
        else:
            x.register_post_accumulate_grad_hook(boom)
        y.sum().backward()

    e, t = errors(run)
    assert type(e) is type(t) is KeyError


def test_hooks_run_from_another_thread():
    out = {}

    def work():
        x = ember.ones(2, requires_grad=True)
        x.register_hook(lambda g: g * 7)
        (x * 1).sum().backward()
        out["grad"] = x.grad.tolist()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out["grad"] == [7.0, 7.0]


# ---------------------------------------------------------------- post-accumulate-grad hooks


def test_post_accumulate_grad_hook_sees_updated_grad_and_can_step():
    def run(lib):
        w = lib.tensor([1.0, 2.0], requires_grad=True)

        def sgd(p):
            with lib.no_grad():
                p.sub_(0.1 * p.grad)
                p.grad = None

        w.register_post_accumulate_grad_hook(sgd)
        for _ in range(3):
            (w * w).sum().backward()
        return w.tolist(), w.grad

    e, t = both(run)
    np.testing.assert_allclose(e[0], t[0], rtol=1e-6)
    assert e[1] is None and t[1] is None


def test_post_accumulate_not_called_by_autograd_grad():
    def run(lib):
        calls = []
        x = lib.ones(2, requires_grad=True)
        x.register_post_accumulate_grad_hook(lambda p: calls.append(1))
        lib.autograd.grad((x * 2).sum(), x)
        return calls

    e, t = both(run)
    assert e == t == []


@pytest.mark.parametrize("non_leaf", [True, False])
def test_post_accumulate_registration_errors(non_leaf):
    def run(lib):
        t = lib.ones(2, requires_grad=True) * 2 if non_leaf else lib.ones(2)
        t.register_post_accumulate_grad_hook(lambda p: None)

    e, t = errors(run)
    assert type(e) is type(t) is RuntimeError
    assert str(e) == str(t)


def test_post_accumulate_bad_return():
    def bad_return(lib):
        x = lib.ones(2, requires_grad=True)
        x.register_post_accumulate_grad_hook(lambda p: 3)
        (x * 2).sum().backward()

    e, t = errors(bad_return)
    assert type(e) is type(t) is TypeError
    assert str(e) == str(t)


# ---------------------------------------------------------------- node hooks


def test_node_hooks_arguments():
    def run(lib):
        log = []
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        y.grad_fn.register_prehook(lambda go: log.append(("pre", tolist(go))))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", tolist(gi), tolist(go))))
        acc = y.grad_fn.next_functions[0][0]
        acc.register_prehook(lambda go: log.append(("acc pre", tolist(go))))
        acc.register_hook(lambda gi, go: log.append(("acc post", tolist(gi), tolist(go))))
        y.sum().backward()
        return log

    e, t = both(run)
    assert e == t


def test_node_hooks_replace_gradients():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        w = lib.full((2,), 3.0, requires_grad=True)
        y = x * w
        y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
        y.grad_fn.register_hook(lambda gi, go: (gi[0] + 1, None))
        y.sum().backward()
        return x.grad.tolist(), w.grad

    e, t = both(run)
    assert e == t


def test_node_hook_removal():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        h = y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
        h.remove()
        y.sum().backward()
        return x.grad.tolist()

    e, t = both(run)
    assert e == t


@pytest.mark.parametrize("which", ["pre_int", "pre_len", "post_int", "post_len", "post_elem"])
def test_node_hook_result_errors(which):
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        if which == "pre_int":
            y.grad_fn.register_prehook(lambda go: 3)
        elif which == "pre_len":
            def h(go):
                return (go[0], go[0])
            y.grad_fn.register_prehook(h)
        elif which == "post_int":
            y.grad_fn.register_hook(lambda gi, go: 3)
        elif which == "post_len":
            def h(gi, go):
                return (gi[0],)
            y.grad_fn.register_hook(h)
        else:
            y.grad_fn.register_hook(lambda gi, go: (1, 2))
        y.sum().backward()

    e, t = errors(run)
    assert type(e) is type(t)
    assert str(e) == str(t)


def test_prehook_returning_none_gradient():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        y.grad_fn.register_prehook(lambda go: (None,))
        y.sum().backward()
        return x.grad

    e, t = both(run)
    assert e is None and t is None


# ---------------------------------------------------------------- no leaks


def _collected(make):
    ref = make()
    gc.collect()
    return ref() is None


def test_hook_closing_over_its_leaf_is_collected():
    def make():
        x = ember.ones(2, requires_grad=True)
        x.register_hook(lambda g: g * x)
        return weakref.ref(x)

    assert _collected(make)


def test_hook_closing_over_its_non_leaf_is_collected():
    def make():
        x = ember.ones(2, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: g + y)
        y.sum().backward(retain_graph=True)
        return weakref.ref(y)

    assert _collected(make)


def test_node_hook_closing_over_output_is_collected():
    def make():
        x = ember.ones(2, requires_grad=True)
        y = x * 2
        y.grad_fn.register_hook(lambda gi, go: y and None)
        return weakref.ref(y)

    assert _collected(make)


def test_post_accumulate_hook_closing_over_params_is_collected():
    def make():
        params = [ember.ones(2, requires_grad=True)]
        for p in params:
            p.register_post_accumulate_grad_hook(lambda q: params and None)
        (params[0] * 2).sum().backward()
        return weakref.ref(params[0])

    assert _collected(make)


def test_hook_function_released_with_its_tensor():
    def make():
        x = ember.ones(2, requires_grad=True)

        def h(g):
            return g

        x.register_hook(h)
        y = x * 2
        y.grad_fn.register_hook(lambda gi, go: None)
        return weakref.ref(h)

    assert _collected(make)


def test_handle_does_not_keep_tensor_alive():
    x = ember.ones(2, requires_grad=True)
    h = x.register_hook(lambda g: g)
    r = weakref.ref(x)
    del x
    assert r() is None
    h.remove()  # the owner is gone: a no-op

"""Tensor.detach_() against PyTorch."""

import ember
import pytest
import torch


def both(fn):
    return fn(ember), fn(torch)


def test_detach_in_place_on_non_leaf():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        r = y.detach_()
        return r is y, y.requires_grad, y.grad_fn, y.is_leaf, y.output_nr, y.tolist()

    e, t = both(run)
    assert e == t == (True, False, None, True, 0, [2.0, 2.0, 2.0])


def test_detach_in_place_on_leaf():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        x.detach_()
        return x.requires_grad, x.is_leaf

    e, t = both(run)
    assert e == t == (False, True)


def test_detach_in_place_cuts_the_graph_for_later_ops():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        y = (x * 2).detach_()
        z = y * x
        z.sum().backward()
        return x.grad.tolist()

    e, t = both(run)
    assert e == t == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("requires_grad", [True, False])
def test_detach_in_place_on_view_raises(requires_grad):
    def run(lib):
        x = lib.ones(3, requires_grad=requires_grad)
        v = (x * 2)[1:]
        v.detach_()

    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Can't detach views in-place. Use detach\\(\\) instead."):
            run(lib)


def test_saved_tensor_detached_in_place_raises():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        s = y * y
        y.detach_()
        s.sum().backward()

    msgs = []
    for lib in (ember, torch):
        with pytest.raises(RuntimeError) as info:
            run(lib)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]
    assert msgs[0].startswith("Trying to use a saved tensor that has been detached in-place")

"""The Python objects of tensors (python/src/tensor_object.cpp).

ember makes a result's Python object without pybind11's instance registry and finds a
tensor's object through its TensorImpl. These tests pin what that must preserve: one
Python object per live tensor (identity, as in PyTorch), objects made by pybind11 itself
(ember.Tensor(data), subclasses) found the same way, and clean destruction (weak
references, the collector, objects made again after the first one died).
"""

import gc
import sys
import weakref

import ember
import pytest


def test_same_tensor_same_object():
    x = ember.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    assert x.grad is g
    assert x.grad is x.grad
    y = x.detach()
    assert y is not x


def test_object_made_again_after_the_first_died():
    x = ember.ones(2, 2, requires_grad=True)
    (x * 3).sum().backward()
    gid = id(x.grad)
    values = x.grad.tolist()
    gc.collect()
    # The first .grad object is gone (only the C++ tensor holds the gradient); a new one
    # must be a fully working tensor with the same contents.
    g2 = x.grad
    assert g2.tolist() == values
    assert (g2 + 1).tolist() == [[4.0, 4.0], [4.0, 4.0]]
    del gid


def test_refcount_of_new_result_is_one():
    a = ember.ones(2)
    b = a + a
    assert sys.getrefcount(b) == 2  # b and getrefcount's argument


def test_data_constructor_objects_are_found_again():
    x = ember.ones(2, requires_grad=True)
    t = ember.Tensor([5.0, 6.0])
    x.grad = t
    assert x.grad is t
    del t
    gc.collect()
    assert x.grad.tolist() == [5.0, 6.0]


class Sub(ember.Tensor):
    pass


def test_subclass_objects_keep_their_type_when_returned():
    s = Sub([1.0, 2.0])
    x = ember.ones(2, requires_grad=True)
    x.grad = s
    assert x.grad is s
    assert type(x.grad) is Sub
    r = s + 1
    assert type(r) is ember.Tensor
    assert r.tolist() == [2.0, 3.0]


def test_saved_tensor_returns_the_callers_object():
    class Square(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = ember.ones(3, requires_grad=True)
    y = Square.apply(x)
    assert y.grad_fn.saved_tensors[0] is x


def test_weak_references_to_results():
    a = ember.ones(2)
    r = a + a
    w = weakref.ref(r)
    assert w() is r
    del r
    assert w() is None


def test_collector_finds_hook_cycles_on_results():
    a = ember.ones(2, requires_grad=True)
    r = a * 2
    r.register_hook(lambda g: g * r)  # r -> hooks -> lambda -> r
    w = weakref.ref(r)
    del r
    gc.collect()
    assert w() is None


def test_many_results_do_not_leak_objects():
    a = ember.ones(4)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(10000):
        a = a + 1
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert a.tolist() == [10001.0] * 4


@pytest.mark.parametrize("op", ["add", "mul", "mm", "clamp"])
def test_result_objects_are_exact_tensors(op):
    a = ember.ones(2, 2)
    r = {"add": lambda: a + a, "mul": lambda: a * 2.0, "mm": lambda: a.mm(a), "clamp": lambda: a.clamp(min=0)}[op]()
    assert type(r) is ember.Tensor
    assert isinstance(r, ember.Tensor)
    assert r.shape == (2, 2)

"""Errors that say where: creation sites of nodes, the in-place error naming who saved
the tensor and who wrote it, and the second-backward error telling a repeated
backward() from a graph that reaches into one already freed.

Each message must start with PyTorch's own text for the condition (checked against
torch on the same program), so that it can still be searched for.
"""

from __future__ import annotations

import inspect
import os

import ember
import pytest
import torch


def line() -> int:
    """The caller's line number."""
    return inspect.currentframe().f_back.f_lineno


def site(lineno: int) -> str:
    path = __file__
    cwd = os.path.join(os.getcwd(), "")
    if path.startswith(cwd):
        path = path[len(cwd):]
    return f"{path}:{lineno}"


def first_sentence_of_torch(program):
    with pytest.raises(RuntimeError) as e:
        program(torch)
    return str(e.value)


# ---------------------------------------------------------------- creation sites


def test_creation_site_is_the_users_line():
    x = ember.ones(3, requires_grad=True)
    y = x * 2; here = line()  # noqa: E702
    assert y.grad_fn.creation_site == site(here)
    z = y.sum(); here = line()  # noqa: E702
    assert z.grad_fn.creation_site == site(here)


def test_creation_site_skips_embers_own_python_frames():
    # max(dim) and the factories' argument parsing run through python/ember; the site
    # is still the line in this file that called them.
    x = ember.tensor([[1.0, 3.0], [2.0, 0.5]], requires_grad=True)
    values = x.max(dim=1).values; here = line()  # noqa: E702
    assert values.grad_fn.creation_site == site(here)


def test_creation_site_in_fresh_frames():
    # Sites are read from the interpreter's frame records: a lambda, a comprehension, a
    # generator and a nested function each run in a frame made for the call.
    x = ember.ones(2, requires_grad=True)
    f = lambda t: t * 3  # noqa: E731
    here = line() - 1
    assert f(x).grad_fn.creation_site == site(here)
    ys = [x * k for k in (1.0, 2.0)]; here = line()  # noqa: E702
    assert [y.grad_fn.creation_site for y in ys] == [site(here)] * 2

    def gen():
        for k in (1.0, 2.0):
            yield x - k
    here = line() - 1
    assert [y.grad_fn.creation_site for y in gen()] == [site(here)] * 2

    def outer():
        def inner(t):
            return t.exp()
        return inner(x)
    here = line() - 2
    assert outer().grad_fn.creation_site == site(here)


def test_creation_site_of_large_ops_run_without_the_gil():
    x = ember.ones(300, 300, requires_grad=True)  # 9e4 elements: the kernel runs without the GIL
    y = x.exp(); here = line()  # noqa: E702
    assert y.grad_fn.creation_site == site(here)
    m = x.mm(x); here = line()  # noqa: E702
    assert m.grad_fn.creation_site == site(here)


def test_nodes_made_by_create_graph_backward_name_the_backward_call():
    x = ember.tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True); here = line()  # noqa: E702
    assert x.grad.grad_fn.creation_site == site(here)


def test_custom_function_node_has_the_apply_line():
    class Double(ember.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = ember.ones(2, requires_grad=True)
    y = Double.apply(x); here = line()  # noqa: E702
    assert y.grad_fn.name() == "DoubleBackward"
    assert y.grad_fn.creation_site == site(here)


def test_recording_can_be_switched_off():
    # The switch exists to measure the cost (bench/chapter_loop.py); it also shows the
    # sites above come from recording, not from something always true.
    ember._C._set_record_sites(False)
    try:
        y = ember.ones(2, requires_grad=True) * 2
    finally:
        ember._C._set_record_sites(True)
    assert y.grad_fn.creation_site is None


# ---------------------------------------------------------------- in-place writes


def test_inplace_error_names_saver_writer_and_versions():
    def program(T):
        p = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        q = p * 2
        r = q.pow(2)
        q.add_(1)
        r.sum().backward()

    torch_msg = first_sentence_of_torch(program)
    p = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    q = p * 2
    r = q.pow(2); saved_at = line()  # noqa: E702
    q.add_(1); written_at = line()  # noqa: E702
    with pytest.raises(RuntimeError) as e:
        r.sum().backward()
    msg = str(e.value)
    ours_first = msg.split(" instead. ")[0] + " instead."
    assert torch_msg.startswith(ours_first.replace("[ember.", "[torch.").replace("AddBackward0", "Add"))
    assert (f"`q` (float32 [3]) was saved by PowBackward0 at {site(saved_at)} and modified in place by add_ "
            f"at {site(written_at)} (version 0 -> 1).") in msg
    assert "ember.no_grad()" in msg and "out-of-place" in msg


@pytest.mark.parametrize("op", ["mul_", "zero_", "copy_", "clamp_", "fill_", "sub_"])
def test_inplace_error_names_each_writer(op):
    x = ember.tensor([0.5, 1.5], requires_grad=True)
    h = x.exp()  # exp saves its result h
    with ember.no_grad():
        write = {
            "mul_": lambda: h.mul_(2),
            "zero_": lambda: h.zero_(),
            "copy_": lambda: h.copy_(ember.ones(2)),
            "clamp_": lambda: h.clamp_(min=1),
            "fill_": lambda: h.fill_(3.0),
            "sub_": lambda: h.sub_(1),
        }[op]
        write(); here = line()  # noqa: E702
    with pytest.raises(RuntimeError) as e:
        h.sum().backward()
    msg = str(e.value)
    assert msg.startswith("one of the variables needed for gradient computation has been modified by an inplace "
                          "operation: [ember.FloatTensor [2]], which is output 0 of ExpBackward0, is at version 1; "
                          "expected version 0 instead.")
    # lambdas are the user's frames too: the writer's site is the lambda's line
    assert f"modified in place by {op} at " in msg
    assert "`h` (float32 [2]) was saved by ExpBackward0" in msg
    assert "(version 0 -> 1)" in msg
    del here


def test_inplace_through_a_view_names_the_view_write_and_counts_versions():
    x = ember.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a = x * 1
    b = a.sin()  # saves a
    with ember.no_grad():
        a[1:3].mul_(2); here = line()  # noqa: E702
        a.add_(1)
    with pytest.raises(RuntimeError) as e:
        b.sum().backward()
    msg = str(e.value)
    assert "`a` (float32 [4]) was saved by SinBackward0" in msg
    assert f"modified in place by add_ at {site(here + 1)} (version 0 -> 2)" in msg


def test_inplace_error_inside_a_function_finds_the_local_name():
    def train_step():
        weights = ember.tensor([1.0, 2.0], requires_grad=True)
        act = weights.sigmoid()
        act.mul_(0.5)
        act.sum().backward()

    with pytest.raises(RuntimeError) as e:
        train_step()
    assert "`act` (float32 [2]) was saved by SigmoidBackward0" in str(e.value)


# ---------------------------------------------------------------- backward twice


BACKWARD_TWICE = ("Trying to backward through the graph a second time (or directly access saved tensors after "
                  "they have already been freed).")


def test_backward_twice_on_the_same_graph_suggests_retain_graph():
    def program(T):
        x = T.ones(3, requires_grad=True)
        out = (x * x).sum()
        out.backward()
        out.backward()

    torch_msg = first_sentence_of_torch(program)
    x = ember.ones(3, requires_grad=True)
    out = (x * x).sum(); made = line()  # noqa: E702
    out.backward(); first = line()  # noqa: E702
    with pytest.raises(RuntimeError) as e:
        out.backward()
    msg = str(e.value)
    assert msg.startswith(torch_msg)  # PyTorch's whole text, then ours
    assert msg.startswith(BACKWARD_TWICE)
    assert (f"backward() was run again on `out` (SumBackward0, created at {site(made)}), whose graph an earlier "
            f"backward() at {site(first)} had freed: MulBackward0, created at {site(made)}, needs its saved "
            "tensors.") in msg
    assert "retain_graph=True" in msg
    assert "detach()" not in msg


def test_graph_reaching_into_a_freed_one_suggests_detach():
    # The classic: a value carried across iterations keeps the previous graph attached.
    w = ember.ones(3, requires_grad=True)
    h = ember.zeros(3)
    for i in range(2):
        h = h * w + 1; step_line = line()  # noqa: E702
        loss = h.sum(); loss_line = line()  # noqa: E702
        if i == 0:
            loss.backward(); backward_line = line()  # noqa: E702
            continue
        with pytest.raises(RuntimeError) as e:
            loss.backward()
    msg = str(e.value)
    assert msg.startswith(BACKWARD_TWICE)
    assert (f"backward() on `loss` (SumBackward0, created at {site(loss_line)}) reached MulBackward0 (created at "
            f"{site(step_line)}), whose saved tensors an earlier backward() at {site(backward_line)} freed") in msg
    assert "h = h.detach()" in msg


def test_detach_fix_from_the_message_works():
    w = ember.ones(3, requires_grad=True)
    h = ember.zeros(3)
    for _ in range(3):
        h = h.detach() * w + 1
        h.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0, 3.0]  # the h before each step: 0 + 1 + 2

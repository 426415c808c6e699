"""Table-driven op tests: one table of cases (op_table.py) feeds three checks.

1. forward against numpy, in float32 and float64;
2. gradients against central finite differences, in float64;
3. against PyTorch on identical inputs: values, dtypes, gradients, ``grad_fn.name()`` and
   the shape of ``grad_fn.next_functions``.

Then the checks that do not fit a table row: type promotion for every pair of operand
kinds, the max/min namedtuple, in-place ops under no_grad, and what ember refuses clearly.

PyTorch is the reference for semantics and node names, and a required test dependency.
"""

from __future__ import annotations

import warnings

import ember
import numpy as np
import pytest
import torch
from op_table import (
    CASES,
    PROMO_OPS,
    build,
    finite_difference,
    grad_output,
    np_views,
    outputs,
    promo_operands,
    to_np,
)

TOL = {"float32": {"rtol": 1e-5, "atol": 1e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def dtype_name(t) -> str:
    return str(t.dtype).split(".")[-1]


def node_name(fn) -> str | None:
    # PyTorch spells its C++ namespace in AccumulateGrad's name ("torch::autograd::AccumulateGrad").
    return None if fn is None else fn.name().split("::")[-1]


def next_pattern(fn) -> list:
    return [(node_name(f), nr) for f, nr in fn.next_functions]


def forward_params():
    for c in CASES:
        if c.ref is None:
            continue
        for dt in c.dtypes:
            yield pytest.param(c, dt, id=f"{c.id}-{dt}", marks=c.marks)


def grad_params():
    for c in CASES:
        # float32 inputs are left to the PyTorch comparison: differences need float64
        if (
            c.fd
            and any(a.grad and a.dtype is None for a in c.args)
            and all(a.dtype != "float32" for a in c.args)
        ):
            yield pytest.param(c, id=c.id, marks=c.marks)


def torch_params():
    for c in CASES:
        if c.torch:
            for dt in c.dtypes:
                yield pytest.param(c, dt, id=f"{c.id}-{dt}", marks=c.marks)


def assert_values(actual: np.ndarray, expected: np.ndarray, dtype: str, what: str):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.kind in "fc" or actual.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, err_msg=what, **TOL[dtype])
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


# ---------------------------------------------------------------- 1. forward vs numpy


@pytest.mark.parametrize("c,dtype", forward_params())
def test_forward(c, dtype):
    arrays = c.arrays(dtype)
    _, inputs = build(ember, c, arrays, requires_grad=False)
    got = outputs(c.fn(ember, *inputs))
    ref = c.ref(*np_views(c, arrays))
    want = list(ref) if isinstance(ref, tuple) else [ref]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert isinstance(g, ember.Tensor)
        w = np.asarray(w)
        a = to_np(g)
        assert a.dtype.kind == w.dtype.kind, f"output {i}: ember dtype {g.dtype}, numpy {w.dtype}"
        assert_values(a, w, dtype, f"output {i}")


# ---------------------------------------------------------------- 2. gradients vs finite differences


@pytest.mark.parametrize("c", grad_params())
def test_gradcheck(c):
    arrays = c.arrays("float64")
    leaves, inputs = build(ember, c, arrays, requires_grad=True)
    out = grad_output(c.fn(ember, *inputs))
    assert out.requires_grad, (
        "output of a differentiable op on inputs that require grad must require grad"
    )
    w = c.weights(tuple(out.shape))
    (out * ember.tensor(w, dtype=out.dtype)).sum().backward()
    numeric = finite_difference(ember, c, arrays, w)
    for k, (leaf, num) in enumerate(zip(leaves, numeric)):
        if num is None:
            assert leaf.grad is None
            continue
        analytic = np.zeros(num.shape) if leaf.grad is None else to_np(leaf.grad)
        np.testing.assert_allclose(
            analytic, num, atol=1e-5, rtol=1e-4, err_msg=f"gradient of input {k}"
        )


# ---------------------------------------------------------------- 3. against PyTorch


def _run_torch(c, inputs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # x.T on non-2-D tensors is deprecated in PyTorch
        return c.fn(torch, *inputs)


@pytest.mark.parametrize("c,dtype", torch_params())
def test_vs_torch(c, dtype):
    arrays = c.arrays(dtype)
    e_leaves, e_in = build(ember, c, arrays, requires_grad=True)
    t_leaves, t_in = build(torch, c, arrays, requires_grad=True)
    e_res, t_res = c.fn(ember, *e_in), _run_torch(c, t_in)
    assert isinstance(e_res, tuple) == isinstance(t_res, tuple)
    e_outs, t_outs = outputs(e_res), outputs(t_res)
    assert len(e_outs) == len(t_outs)
    for i, (e, t) in enumerate(zip(e_outs, t_outs)):
        assert tuple(e.shape) == tuple(t.shape), f"output {i} shape"
        assert dtype_name(e) == dtype_name(t), f"output {i} dtype"
        assert_values(to_np(e), to_np(t), dtype, f"output {i}")
        assert e.requires_grad == t.requires_grad, f"output {i} requires_grad"
        assert e.is_leaf == t.is_leaf, f"output {i} is_leaf"
        assert node_name(e.grad_fn) == node_name(t.grad_fn), f"output {i} grad_fn"
        if t.grad_fn is not None:
            assert next_pattern(e.grad_fn) == next_pattern(t.grad_fn), f"output {i} next_functions"

    t_out, e_out = grad_output(t_res), grad_output(e_res)
    if t_out is None or not t_out.requires_grad:
        return
    w = c.weights(tuple(t_out.shape))
    (t_out * torch.tensor(w, dtype=t_out.dtype)).sum().backward()
    (e_out * ember.tensor(w, dtype=e_out.dtype)).sum().backward()
    for k, (e, t) in enumerate(zip(e_leaves, t_leaves)):
        if t.grad is None:
            assert e.grad is None, f"input {k}: PyTorch leaves .grad None"
            continue
        assert e.grad is not None, f"input {k}: no gradient"
        assert dtype_name(e.grad) == dtype_name(t.grad), f"input {k} grad dtype"
        assert_values(to_np(e.grad), to_np(t.grad), dtype_name(t.grad), f"gradient of input {k}")


# ---------------------------------------------------------------- type promotion


PROMO = promo_operands()


def promo_params():
    for op in PROMO_OPS:
        for ia, (na, ma) in enumerate(PROMO):
            for ib, (nb, mb) in enumerate(PROMO):
                if na.startswith("py_") and nb.startswith("py_"):
                    continue
                yield pytest.param(op, ma, mb, id=f"{op}-{na}-{nb}")


def _call(L, op, ma, mb):
    try:
        return PROMO_OPS[op](ma(L), mb(L)), None
    except Exception as exc:  # noqa: BLE001 (any error: its type is compared with PyTorch's below)
        return None, exc


@pytest.mark.parametrize("op,ma,mb", promo_params())
def test_type_promotion(op, ma, mb):
    t, t_exc = _call(torch, op, ma, mb)
    e, e_exc = _call(ember, op, ma, mb)
    if t_exc is not None:
        assert e_exc is not None, f"PyTorch raises {t_exc!r}; ember returned {e!r}"
        assert isinstance(e_exc, type(t_exc)), (
            f"PyTorch raises {type(t_exc).__name__}, ember {e_exc!r}"
        )
        return
    assert e_exc is None, f"ember raised {e_exc!r}"
    assert dtype_name(e) == dtype_name(t)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(to_np(e), to_np(t), rtol=1e-6)


def test_sum_to_integer_dtype_of_grad_input_raises_like_torch():
    x = torch.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Autograd not support dtype"):
        x.sum(dtype=torch.int64)
    e = ember.tensor(x.detach().numpy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="Autograd not support dtype"):
        e.sum(dtype=ember.int64)
    with ember.no_grad():
        assert e.sum(dtype=ember.int64).dtype == ember.int64


# ---------------------------------------------------------------- results that are namedtuples


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_dim_namedtuple(name):
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    e = getattr(ember.tensor(data), name)(1)
    t = getattr(torch.tensor(data), name)(1)
    assert type(e).__name__ == type(t).__name__ == name
    assert e._fields == ("values", "indices")
    values, indices = e
    assert values.tolist() == e.values.tolist() == e[0].tolist() == t.values.tolist()
    assert indices.tolist() == e.indices.tolist() == e[1].tolist() == t.indices.tolist()
    assert dtype_name(e.indices) == "int64"


# ---------------------------------------------------------------- in-place ops under no_grad on leaves


def _iadd(x, o):
    x += o
    return x


def _isub(x, o):
    x -= o
    return x


def _imul(x, o):
    x *= o
    return x


def _idiv(x, o):
    x /= o
    return x


NOGRAD_INPLACE = {
    "add_": lambda x, o: x.add_(o),
    "add_alpha": lambda x, o: x.add_(o, alpha=-0.1),
    "sub_": lambda x, o: x.sub_(o),
    "sub_scalar": lambda x, o: x.sub_(0.5),
    "mul_": lambda x, o: x.mul_(o),
    "div_": lambda x, o: x.div_(o),
    "pow_": lambda x, o: x.pow_(2),
    "clamp_": lambda x, o: x.clamp_(-0.5, 0.5),
    "clamp_min": lambda x, o: x.clamp_(min=0.0),
    "zero_": lambda x, o: x.zero_(),
    "fill_": lambda x, o: x.fill_(3.0),
    "copy_": lambda x, o: x.copy_(o),
    "iadd": _iadd,
    "isub": _isub,
    "imul": _imul,
    "idiv": _idiv,
    "view_mul_": lambda x, o: (x[1].mul_(2), x)[1],
    "view_t_add_": lambda x, o: (x.t().add_(1), x)[1],
    "setitem_scalar": lambda x, o: (x.__setitem__((0, slice(None, None, 2)), 7.0), x)[1],
    "setitem_tensor": lambda x, o: (x.__setitem__((slice(None), 1), o[:, 0]), x)[1],
}


@pytest.mark.parametrize("op", NOGRAD_INPLACE)
def test_inplace_no_grad_on_leaf(op):
    rng = np.random.default_rng(0)
    w0, o0 = rng.standard_normal((3, 4)), rng.uniform(0.5, 1.5, (3, 4))
    results = {}
    for L in (ember, torch):
        w = L.tensor(w0, requires_grad=True)
        o = L.tensor(o0)
        v0 = w._version
        with L.no_grad():
            r = NOGRAD_INPLACE[op](w, o)
        assert r is w, "an in-place op returns self"
        assert w.is_leaf and w.requires_grad and w.grad_fn is None
        assert w._version > v0
        (w * w).sum().backward()  # the leaf still works as a parameter
        results[L.__name__] = (to_np(w), to_np(w.grad))
    np.testing.assert_allclose(results["ember"][0], results["torch"][0], rtol=1e-12)
    np.testing.assert_allclose(results["ember"][1], results["torch"][1], rtol=1e-12)


@pytest.mark.parametrize("op", ["add_", "mul_", "zero_", "iadd", "setitem_scalar"])
def test_inplace_outside_graph(op):
    """On tensors that do not require grad, grad mode does not matter."""
    rng = np.random.default_rng(1)
    w0, o0 = rng.standard_normal((3, 4)), rng.uniform(0.5, 1.5, (3, 4))
    e = NOGRAD_INPLACE[op](ember.tensor(w0), ember.tensor(o0))
    t = NOGRAD_INPLACE[op](torch.tensor(w0), torch.tensor(o0))
    assert e.grad_fn is None and not e.requires_grad
    np.testing.assert_allclose(to_np(e), to_np(t), rtol=1e-12)


# ---------------------------------------------------------------- what ember refuses, clearly


ADVANCED_INDEX = {
    "int_tensor": lambda L, x: x[L.tensor([0, 2])],
    "list": lambda L, x: x[[0, 1]],
    "bool_mask": lambda L, x: x[x > 0],
    "ndarray": lambda L, x: x[np.array([0, 1])],
}


@pytest.mark.parametrize("kind", ADVANCED_INDEX)
def test_advanced_indexing_is_refused(kind):
    x = torch.randn(3, 4, dtype=torch.float64)
    ADVANCED_INDEX[kind](torch, x)  # PyTorch supports it; ember does not yet
    with pytest.raises(IndexError, match="advanced indexing"):
        ADVANCED_INDEX[kind](ember, ember.tensor(x.numpy()))


VIEW_INPLACE = {
    "select_add_": lambda y: y[0].add_(1.0),
    "slice_mul_": lambda y: y[:, ::2].mul_(2.0),
    "t_zero_": lambda y: y.t().zero_(),
    "setitem": lambda y: y.__setitem__(0, 5.0),
    "view_iadd": lambda y: y.view(-1).__iadd__(1.0),
}


@pytest.mark.parametrize("kind", VIEW_INPLACE)
def test_inplace_on_view_of_graph_tensor_is_refused(kind):
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    y = x * 2
    VIEW_INPLACE[kind](y)
    assert (
        node_name(y.grad_fn) == "CopySlices"
    )  # what PyTorch records, and ember does not implement
    ex = ember.tensor(x.detach().numpy(), requires_grad=True)
    ey = ex * 2
    with pytest.raises(NotImplementedError, match="not supported by ember"):
        VIEW_INPLACE[kind](ey)

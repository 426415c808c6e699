"""The bad-input catalogue: every public function and Tensor method called with the wrong
things, run on ember and on PyTorch.

Each case asserts that
- ember raises PyTorch's exception type (compared with the builtin class PyTorch's error
  derives from: torch.OutOfMemoryError counts as RuntimeError), or, where PyTorch accepts
  the input, that ember accepts it too and gives the same value (NaN and inf propagate alike);
- ember's message names the op;
- every tensor operand is unchanged afterwards: values, shape, version, requires_grad, grad.

test_errors.py checks PyTorch's exact wording for the common errors; this module is about
breadth. `test_catalogue_size` prints the number of cases (README, "Reliability").
"""

from __future__ import annotations

import operator
import warnings

import ember
import numpy as np
import pytest
import torch

# ---------------------------------------------------------------- machinery


def builtin_type(e: BaseException) -> type:
    for c in type(e).__mro__:
        if c.__module__ == "builtins":
            return c
    return type(e)


def state(x):
    """What must not change when an op on `x` fails."""
    if not hasattr(x, "grad_fn"):
        return None
    g = x.grad if x.is_leaf else None
    return (
        tuple(x.shape), str(x.dtype), x.detach().numpy().copy(), x._version, x.requires_grad,
        None if g is None else g.detach().numpy().copy(),
    )


def same_state(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return all(
        np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b)
    )


def outcome(L, make, call):
    """(operands, result or exception) of call(L, *make(L)), warnings silenced."""
    ops = make(L)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ops, call(L, *ops), None
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            return ops, None, e


def values(r):
    if isinstance(r, (tuple, list)):
        return [values(x) for x in r]
    if hasattr(r, "detach"):
        return r.detach().numpy()
    return r


def check(make, call, op, exc=None):
    """Runs one catalogue case. `exc`: the expected type where it is not PyTorch's (ember's
    own limitation, or an allocation failure that may be RuntimeError or MemoryError)."""
    tops, tres, terr = outcome(torch, make, call)
    ops = make(ember)
    before = [state(x) for x in ops]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res, err = call(ember, *ops), None
        except Exception as e:  # noqa: BLE001
            res, err = None, e
    if exc == LENIENT:  # ember takes on purpose what PyTorch refuses (README / test_errors)
        assert err is None, f"ember raised {type(err).__name__}: {err}"
        return
    expected = exc or (None if terr is None else builtin_type(terr))
    if expected is None:
        assert err is None, f"torch accepts this, ember raised {type(err).__name__}: {err}"
        same_values(values(res), values(tres))
        return
    assert err is not None, f"ember accepted what torch rejects with {terr!r}; got {res!r}"
    ok = isinstance(err, expected) if isinstance(expected, tuple) else builtin_type(err) is expected
    assert ok, f"ember raised {type(err).__name__} ({err}), torch {type(terr).__name__} ({terr})"
    # `op` lists the acceptable names, "a|b": matmul's errors may name the mm or dot it ran
    assert any(o.lower() in str(err).lower() for o in op.split("|")), f"message does not name {op!r}: {err}"
    for i, (x, b) in enumerate(zip(ops, before)):
        assert same_state(state(x), b), f"operand {i} changed"


def same_values(e, t):
    if isinstance(t, list):
        assert isinstance(e, list) and len(e) == len(t)
        for a, b in zip(e, t):
            same_values(a, b)
    elif isinstance(t, np.ndarray) and t.dtype.kind == "f":
        assert e.dtype == t.dtype and e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=0, equal_nan=True)
    else:
        np.testing.assert_equal(e, t)


CASES = []
LENIENT = "ember accepts"
# An allocation failure is reported where the memory is asked for, which knows the bytes but
# not the op (PyTorch's wording: "DefaultCPUAllocator: can't allocate memory: ...").
ALLOC = "allocate|overflow"


# Known differences, each a reason: the case stays in the table and turns green when fixed.
XFAIL = {
    "method-squeeze-none-arg": "ember reads squeeze(None) as squeeze(); PyTorch raises TypeError",
    "method-squeeze-none": "ember reads squeeze(None) as squeeze(); PyTorch raises TypeError",
    "method-max-none-arg": "ember reads max(None) as max(); PyTorch raises TypeError",
    "method-min-none-arg": "ember reads min(None) as min(); PyTorch raises TypeError",
    "grad-of-non-tensor": "autograd.grad(3.0, x): ember's TypeError comes from iterating the float",
}


def case(id, make, call, op, exc=None):
    marks = [pytest.mark.xfail(reason=XFAIL[id], strict=True)] if id in XFAIL else []
    CASES.append(pytest.param(make, call, op, exc, id=id, marks=marks))


# operands
def v3(L):
    return L.tensor([1.0, -2.0, 3.0])


def m23(L, grad=False):
    return L.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=grad)


def leaf(L):
    return L.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)


class Obj:
    pass


OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow,
             "@": operator.matmul, "<": operator.lt, "&": operator.and_}
BAD_VALUES = {"str": "abc", "none": None, "object": Obj(), "list_of_str": ["a", "b"], "dict": {"a": 1}}

# ---------------------------------------------------------------- wrong types, every function
# name: (good operands, the call with operand i replaced). Operand 0 is always a tensor.

UNARY_FUNCS = ["abs", "cos", "exp", "log", "neg", "negative", "reciprocal", "relu", "sigmoid", "sign", "sin",
               "sqrt", "tanh", "clone", "detach", "logical_not", "flatten", "t", "squeeze"]
BINARY_FUNCS = ["add", "sub", "mul", "div", "true_divide", "pow", "maximum", "minimum", "eq", "ne", "lt", "le",
                "gt", "ge", "logical_and", "logical_or"]
REDUCE_FUNCS = ["sum", "mean", "max", "min", "argmax", "argmin"]

for f in UNARY_FUNCS + REDUCE_FUNCS:
    for bn, bad in BAD_VALUES.items():
        case(f"fn-{f}-{bn}", lambda L: (), lambda L, f=f, bad=bad: getattr(L, f)(bad), f)
        if f not in ("t", "detach", "clone"):
            case(f"method-{f}-{bn}-arg", lambda L: (m23(L),),
                 lambda L, x, f=f, bad=bad: getattr(x, f)(bad), f)

for f in BINARY_FUNCS:
    for bn, bad in BAD_VALUES.items():
        case(f"fn-{f}-{bn}-first", lambda L: (v3(L),), lambda L, x, f=f, bad=bad: getattr(L, f)(bad, x), f)
        case(f"fn-{f}-{bn}-second", lambda L: (v3(L),), lambda L, x, f=f, bad=bad: getattr(L, f)(x, bad), f)
        case(f"method-{f}-{bn}", lambda L: (v3(L),), lambda L, x, f=f, bad=bad: getattr(x, f)(bad), f)

for f in ["mm", "mv", "dot", "bmm", "matmul"]:
    for bn, bad in BAD_VALUES.items():
        case(f"fn-{f}-{bn}", lambda L: (m23(L),), lambda L, x, f=f, bad=bad: getattr(L, f)(x, bad), f)
        case(f"method-{f}-{bn}", lambda L: (m23(L),), lambda L, x, f=f, bad=bad: getattr(x, f)(bad), f)

for bn, bad in BAD_VALUES.items():
    case(f"fn-addmm-{bn}-input", lambda L: (m23(L), L.ones(3, 3)), lambda L, x, w, bad=bad: L.addmm(bad, x, w), "addmm")
    case(f"fn-addmm-{bn}-mat1", lambda L: (v3(L), L.ones(3, 3)), lambda L, b, w, bad=bad: L.addmm(b, bad, w), "addmm")
    case(f"fn-addmm-{bn}-mat2", lambda L: (v3(L), m23(L)), lambda L, b, x, bad=bad: L.addmm(b, x, bad), "addmm")
    case(f"method-addmm-{bn}", lambda L: (m23(L), L.ones(2, 3)), lambda L, x, c, bad=bad: c.addmm(x, bad), "addmm")
    case(f"method-addmm_-{bn}", lambda L: (m23(L), L.ones(2, 3)), lambda L, x, c, bad=bad: c.addmm_(bad, x), "addmm_")
    if bad is not None:  # beta=None: both refuse, PyTorch with its long signature text
        case(f"fn-addmm-beta-{bn}", lambda L: (v3(L), m23(L), L.ones(3, 3)),
             lambda L, b, x, w, bad=bad: L.addmm(b, x, w, beta=bad), "addmm")
        case(f"fn-addmm-alpha-{bn}", lambda L: (v3(L), m23(L), L.ones(3, 3)),
             lambda L, b, x, w, bad=bad: L.addmm(b, x, w, alpha=bad), "addmm")

SHAPE_METHODS = ["reshape", "view", "expand", "permute", "transpose", "unsqueeze", "squeeze", "flatten",
                 "swapaxes", "view_as", "expand_as", "reshape_as"]
for f in SHAPE_METHODS:
    for bn, bad in BAD_VALUES.items():
        case(f"method-{f}-{bn}", lambda L: (m23(L),), lambda L, x, f=f, bad=bad: getattr(x, f)(bad), f)

for f in ["clamp", "clip"]:
    for bn, bad in BAD_VALUES.items():
        if bad is None:
            continue  # clamp(None) is "neither bound given": below
        case(f"method-{f}-min-{bn}", lambda L: (m23(L),), lambda L, x, f=f, bad=bad: getattr(x, f)(min=bad),
             "clamp")
        case(f"fn-{f}-max-{bn}", lambda L: (m23(L),), lambda L, x, f=f, bad=bad: getattr(L, f)(x, max=bad), "clamp")
case("clamp-no-bounds", lambda L: (m23(L),), lambda L, x: x.clamp(), "clamp")
case("clamp-none-none", lambda L: (m23(L),), lambda L, x: L.clamp(x, None, None), "clamp")

for bn, bad in BAD_VALUES.items():
    case(f"where-cond-{bn}", lambda L: (v3(L),), lambda L, x, bad=bad: L.where(bad, x, x), "where")
    case(f"where-other-{bn}", lambda L: (v3(L),), lambda L, x, bad=bad: L.where(x > 0, x, bad), "where")
    case(f"tensor-{bn}", lambda L: (), lambda L, bad=bad: L.tensor(bad), "tensor")
    for fac in ["ones", "zeros", "empty", "randn", "rand"]:
        case(f"{fac}-size-{bn}", lambda L: (), lambda L, fac=fac, bad=bad: getattr(L, fac)(2, bad), fac)
    case(f"full-value-{bn}", lambda L: (), lambda L, bad=bad: L.full((2,), bad), "full")
    case(f"arange-{bn}", lambda L: (), lambda L, bad=bad: L.arange(bad), "arange")
    case(f"eye-{bn}", lambda L: (), lambda L, bad=bad: L.eye(bad), "eye")
    case(f"linspace-steps-{bn}", lambda L: (), lambda L, bad=bad: L.linspace(0, 1, bad), "linspace")
    for f in ["add_", "sub_", "mul_", "div_", "copy_", "fill_", "pow_"]:
        case(f"{f}-{bn}", lambda L: (m23(L),), lambda L, x, f=f, bad=bad: getattr(x, f)(bad), f)
    for sym, fn in OPERATORS.items():
        if isinstance(bad, (str, list)) and sym == "*":
            continue  # str * tensor is sequence repetition, Python's business
        case(f"operator{sym}-{bn}", lambda L: (m23(L),), lambda L, x, fn=fn, bad=bad: fn(x, bad), sym)
        if not isinstance(bad, (str, list)):  # "abc" + t is str's own error
            case(f"operator{sym}-{bn}-reflected", lambda L: (m23(L),), lambda L, x, fn=fn, bad=bad: fn(bad, x), sym)
    case(f"to-{bn}", lambda L: (m23(L),), lambda L, x, bad=bad: x.to(bad) if bad is not None else x.to("abc"), "to|device")
    case(f"backward-gradient-{bn}", lambda L: (leaf(L),),
         lambda L, x, bad=bad: (x * 2).backward(bad if bad is not None else "abc"), "backward|gradient")
    if bad is not None:
        # torch reads a str index as a sequence (IndexError) and a list as advanced indexing, which
        # ember does not have (IndexError, documented); ember says TypeError for a str
        exc = {"str": TypeError, "list_of_str": IndexError}.get(bn)
        case(f"getitem-{bn}", lambda L: (m23(L),), lambda L, x, bad=bad: x[bad], "index|indices", exc=exc)
    case(f"sum-dtype-{bn}", lambda L: (m23(L),), lambda L, x, bad=bad: x.sum(dtype=bad if bad is not None else 3),
         "sum")

# methods and functions that take no tensor arguments, or none but self: wrong extra arguments
NO_ARG_METHODS = ["cpu", "clone", "contiguous", "detach", "element_size", "is_contiguous", "is_floating_point",
                  "float", "double", "long", "bool", "ndimension", "nelement", "numel", "storage_offset", "tolist",
                  "item", "t", "abs", "exp", "retain_grad", "zero_", "dim", "data_ptr"]
for f in NO_ARG_METHODS:
    case(f"extra-args-{f}", lambda L: (m23(L),), lambda L, x, f=f: getattr(x, f)("abc", Obj()), f)
for f in ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like", "numel", "clone", "detach"]:
    for bn, bad in BAD_VALUES.items():
        case(f"like-{f}-{bn}", lambda L: (), lambda L, f=f, bad=bad: getattr(L, f)(bad), f)
case("full_like-str-value", lambda L: (m23(L),), lambda L, x: L.full_like(x, "abc"), "full_like|full")
for bn, bad in BAD_VALUES.items():
    case(f"scalar_tensor-{bn}", lambda L: (), lambda L, bad=bad: L.scalar_tensor(bad), "scalar_tensor|full")
    case(f"new_ones-{bn}", lambda L: (m23(L),), lambda L, x, bad=bad: x.new_ones(bad), "ones")
    case(f"new_zeros-{bn}", lambda L: (m23(L),), lambda L, x, bad=bad: x.new_zeros(bad), "zeros")
    case(f"size-{bn}", lambda L: (m23(L),), lambda L, x, bad=bad: x.size(bad) if bad is not None else x.size("a"),
         "size")
    case(f"stride-{bn}", lambda L: (m23(L),), lambda L, x, bad=bad: x.stride(bad) if bad is not None else
         x.stride("a"), "stride")
for d in (2, -3):
    case(f"size-dim-{d}", lambda L: (m23(L),), lambda L, x, d=d: x.size(d), "dim")
    case(f"stride-dim-{d}", lambda L: (m23(L),), lambda L, x, d=d: x.stride(d), "dim")
case("new_zeros-negative", lambda L: (m23(L),), lambda L, x: x.new_zeros(-1), "negative")
case("new_ones-huge", lambda L: (m23(L),), lambda L, x: x.new_ones(10**15), ALLOC, exc=(RuntimeError, MemoryError))

# ---------------------------------------------------------------- wrong shapes

for f in ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "logical_and"]:
    case(f"broadcast-{f}", lambda L: (m23(L), L.ones(4)), lambda L, a, b, f=f: getattr(L, f)(a, b), f)
for f in ["add_", "sub_", "mul_", "div_", "copy_"]:
    case(f"broadcast-inplace-{f}", lambda L: (L.ones(3), m23(L)), lambda L, a, b, f=f: getattr(a, f)(b), f)
    case(f"broadcast-inplace-bad-{f}", lambda L: (m23(L), L.ones(2)), lambda L, a, b, f=f: getattr(a, f)(b), f)
case("where-shapes", lambda L: (m23(L), L.ones(4)), lambda L, a, b: L.where(a > 0, a, b), "where")
MATMUL_SHAPES = {
    "mm": [((2, 3), (2, 3)), ((3,), (3, 2)), ((2, 3, 1), (1, 2))],
    "mv": [((2, 3), (2,)), ((3,), (3,)), ((2, 3), (3, 1))],
    "dot": [((3,), (4,)), ((2, 3), (3,)), ((), ())],
    "bmm": [((2, 2, 3), (2, 2, 3)), ((2, 3), (3, 2)), ((2, 2, 3), (3, 3, 2))],
    "matmul": [((2, 3), (2, 3)), ((), (3,)), ((2, 2, 3), (3, 2, 4)), ((3,), (2,))],
}
for f, pairs in MATMUL_SHAPES.items():
    for sa, sb in pairs:
        case(f"shape-{f}-{sa}-{sb}", lambda L, sa=sa, sb=sb: (L.ones(sa), L.ones(sb)),
             lambda L, a, b, f=f: getattr(L, f)(a, b), "matmul|mm|mv|dot|bmm" if f == "matmul" else f)
for sb, sx, sw in [((4,), (2, 3), (3, 3)), ((2, 3), (2, 3), (2, 3)), ((3,), (3,), (3, 3)), ((3,), (2, 3), (3,)),
                   ((2, 2, 3), (2, 3), (3, 3)), ((3, 2), (2, 3), (3, 2))]:
    case(f"shape-addmm-{sb}-{sx}-{sw}", lambda L, sb=sb, sx=sx, sw=sw: (L.ones(sb), L.ones(sx), L.ones(sw)),
         lambda L, b, x, w: L.addmm(b, x, w), "addmm|expand")
    case(f"shape-addmm_-{sb}-{sx}-{sw}", lambda L, sb=sb, sx=sx, sw=sw: (L.ones(sb), L.ones(sx), L.ones(sw)),
         lambda L, b, x, w: b.addmm_(x, w), "addmm_")
for f, args in [("reshape", (4, 2)), ("view", (5,)), ("view", (-1, -1)), ("reshape", (-1, 4)),
                ("expand", (3, 3)), ("expand", (2,)), ("permute", (0,)), ("permute", (0, 0)),
                ("permute", (0, 1, 2)), ("view_as", "v3"), ("expand_as", "v3"), ("reshape_as", "v3")]:
    case(f"shape-{f}-{args}", lambda L: (m23(L), v3(L)),
         lambda L, x, y, f=f, args=args: getattr(x, f)(y) if args == "v3" else getattr(x, f)(*args),
         f"{f}|{f.split('_')[0]}")
case("view-non-contiguous", lambda L: (m23(L),), lambda L, x: x.t().view(6), "view")
case("flatten-start-after-end", lambda L: (L.ones(2, 3, 4),), lambda L, x: x.flatten(2, 0), "flatten")
case("unflatten-like-expand-to-fewer-dims", lambda L: (L.ones(2, 3, 4),), lambda L, x: x.expand(3, 4), "expand")

# ---------------------------------------------------------------- wrong dtypes

I = lambda L: L.tensor([[1, 2], [3, 4]])  # noqa: E731
B = lambda L: L.tensor([True, False])  # noqa: E731
F2 = lambda L: L.ones(2, 2)  # noqa: E731
D2 = lambda L: L.ones(2, 2, dtype=L.float64)  # noqa: E731
for f in ["mm", "matmul", "bmm"]:
    case(f"dtype-{f}-int-float", lambda L: (I(L), F2(L)), lambda L, a, b, f=f: getattr(L, f)(
        a[None] if f == "bmm" else a, b[None] if f == "bmm" else b), f"{f}|mm")
    case(f"dtype-{f}-float-double", lambda L: (F2(L), D2(L)), lambda L, a, b, f=f: getattr(L, f)(
        a[None] if f == "bmm" else a, b[None] if f == "bmm" else b), f"{f}|mm")
case("dtype-addmm-int-float", lambda L: (L.ones(2), I(L), F2(L)), lambda L, b, x, w: L.addmm(b, x, w), "addmm")
case("dtype-addmm-double-bias", lambda L: (L.ones(2, dtype=L.float64), F2(L), F2(L)),
     lambda L, b, x, w: L.addmm(b, x, w), "addmm")
case("dtype-addmm_-float-into-int", lambda L: (I(L), F2(L), F2(L)), lambda L, c, x, w: c.addmm_(x, w), "addmm_")
case("dtype-addmm-bool", lambda L: (B(L), B(L)[None].expand(2, 2), B(L)[:, None].expand(2, 2)),
     lambda L, b, x, w: L.addmm(b, x, w), "addmm")
case("dtype-mv-float-double", lambda L: (F2(L), L.ones(2, dtype=L.float64)), lambda L, a, b: a.mv(b), "mv")
case("dtype-dot-int-float", lambda L: (L.tensor([1, 2]), L.ones(2)), lambda L, a, b: a.dot(b), "dot")
case("dtype-mean-int", lambda L: (I(L),), lambda L, x: x.mean(), "mean")
case("dtype-mean-bool", lambda L: (B(L),), lambda L, x: x.mean(), "mean")
case("dtype-where-float-cond", lambda L: (F2(L),), lambda L, x: L.where(x, x, x), "where")
case("dtype-invert-float", lambda L: (F2(L),), lambda L, x: ~x, "~")
case("dtype-and-float", lambda L: (F2(L),), lambda L, x: x & x, "and")
case("dtype-or-float", lambda L: (F2(L),), lambda L, x: x | x, "or")
# PyTorch's & on int64 is bitwise (2 & 1 == 0); ember has only the logical op: it refuses
case("dtype-and-int", lambda L: (I(L),), lambda L, x: x & (x + 1), "and", exc=NotImplementedError)
case("dtype-sub-bool", lambda L: (B(L),), lambda L, x: x - x, "sub")
case("dtype-sub-bool-scalar", lambda L: (F2(L),), lambda L, x: x - True, "sub")
case("dtype-rsub-bool-scalar", lambda L: (F2(L),), lambda L, x: True - x, "sub")
case("dtype-neg-bool", lambda L: (B(L),), lambda L, x: -x, "neg")
case("dtype-clamp-bool-result", lambda L: (B(L),), lambda L, x: x.clamp(max=True), "clamp")
case("dtype-clamp-bool-promotes", lambda L: (B(L),), lambda L, x: x.clamp(min=0), "clamp")
case("dtype-int-pow-negative", lambda L: (I(L),), lambda L, x: x.pow(-1), "pow")
case("dtype-int-add-float-inplace", lambda L: (I(L),), lambda L, x: x.add_(0.5), "add_")
case("dtype-int-div-inplace", lambda L: (I(L),), lambda L, x: x.div_(2), "div_")
case("dtype-int-mul-float-tensor-inplace", lambda L: (I(L), F2(L)), lambda L, x, y: x.mul_(y), "mul_")
case("dtype-bool-add-int-inplace", lambda L: (B(L),), lambda L, x: x.add_(L.tensor([1, 2])), "add_")
case("dtype-int-requires-grad", lambda L: (), lambda L: L.tensor([1, 2], requires_grad=True), "require gradients")
case("dtype-int-requires-grad-", lambda L: (I(L),), lambda L, x: x.requires_grad_(), "require gradients")
case("dtype-bool-requires-grad-ones", lambda L: (), lambda L: L.ones(2, dtype=L.bool, requires_grad=True),
     "require gradients")
case("dtype-sum-dtype-int-of-float", lambda L: (F2(L),), lambda L, x: x.sum(dtype=L.int64), "sum")
case("dtype-argmax-bool", lambda L: (B(L),), lambda L, x: x.argmax(), "argmax")
case("dtype-item-multi", lambda L: (F2(L),), lambda L, x: x.item(), "item")
case("dtype-float-of-multi", lambda L: (F2(L),), lambda L, x: float(x), "scalar")
case("dtype-index-with-float-tensor", lambda L: (F2(L),), lambda L, x: x[L.tensor(0.5)], "index")

# ---------------------------------------------------------------- negative and huge sizes

for fac in ["ones", "zeros", "empty", "randn", "rand"]:
    case(f"negative-{fac}", lambda L, fac=fac: (), lambda L, fac=fac: getattr(L, fac)(2, -1), "negative")
    case(f"huge-{fac}", lambda L: (), lambda L, fac=fac: getattr(L, fac)(10**15), ALLOC,
         exc=(RuntimeError, MemoryError))
    case(f"huge-2d-{fac}", lambda L: (), lambda L, fac=fac: getattr(L, fac)(10**8, 10**7), ALLOC,
         exc=(RuntimeError, MemoryError))
case("negative-full", lambda L: (), lambda L: L.full((-2,), 1.0), "negative")
case("huge-full", lambda L: (), lambda L: L.full((10**15,), 1.0), ALLOC, exc=(RuntimeError, MemoryError))
case("negative-eye", lambda L: (), lambda L: L.eye(-1), "eye")
case("huge-eye", lambda L: (), lambda L: L.eye(10**8), ALLOC, exc=(RuntimeError, MemoryError))
case("negative-linspace", lambda L: (), lambda L: L.linspace(0, 1, -1), "linspace")
case("huge-linspace", lambda L: (), lambda L: L.linspace(0, 1, 10**15), ALLOC, exc=(RuntimeError, MemoryError))
case("arange-wrong-sign-step", lambda L: (), lambda L: L.arange(0, 10, -1), "arange")
case("arange-zero-step", lambda L: (), lambda L: L.arange(0, 10, 0), "arange")
case("huge-arange", lambda L: (), lambda L: L.arange(0, 10**15), ALLOC, exc=(RuntimeError, MemoryError))
case("overflow-size", lambda L: (), lambda L: L.ones(2**40, 2**40), ALLOC, exc=(RuntimeError, MemoryError))
case("negative-reshape", lambda L: (m23(L),), lambda L, x: x.reshape(-2, 3), "reshape")
case("negative-view", lambda L: (m23(L),), lambda L, x: x.view(2, -3), "view")
case("negative-expand", lambda L: (v3(L),), lambda L, x: x.expand(-2, 3), "expand")
case("negative-expand-leading", lambda L: (v3(L),), lambda L, x: x.expand(-1, 3), "expand")
case("huge-expand-then-copy", lambda L: (v3(L),), lambda L, x: x.expand(10**14, 3).contiguous(), ALLOC,
     exc=(RuntimeError, MemoryError))
case("huge-expand-then-clone", lambda L: (v3(L),), lambda L, x: x.expand(10**14, 3).clone(), ALLOC,
     exc=(RuntimeError, MemoryError))
case("huge-expand-then-add", lambda L: (v3(L),), lambda L, x: x.expand(10**14, 3) + 1, ALLOC,
     exc=(RuntimeError, MemoryError))
case("huge-ones-like-of-expand", lambda L: (v3(L),), lambda L, x: L.ones_like(x.expand(10**14, 3)), ALLOC,
     exc=(RuntimeError, MemoryError))
case("huge-reshape-of-expand", lambda L: (v3(L),), lambda L, x: x.expand(10**14, 3).reshape(-1), ALLOC,
     exc=(RuntimeError, MemoryError))

# ---------------------------------------------------------------- out-of-range dims and indices

for f in ["sum", "mean", "argmax", "argmin", "max", "min", "unsqueeze", "squeeze", "flatten"]:
    for d in (2, -3, 7) if f != "unsqueeze" else (3, -4):
        case(f"dim-{f}-{d}", lambda L: (m23(L),), lambda L, x, f=f, d=d: getattr(x, f)(d), "dim")
for args in [(0, 2), (-3, 0), (5, 5)]:
    case(f"dim-transpose-{args}", lambda L: (m23(L),), lambda L, x, args=args: x.transpose(*args), "dim")
case("dim-permute", lambda L: (m23(L),), lambda L, x: x.permute(0, 2), "dim")
case("dim-sum-tuple", lambda L: (m23(L),), lambda L, x: x.sum((0, 5)), "dim")
case("dim-sum-repeated", lambda L: (m23(L),), lambda L, x: x.sum((0, 0)), "dim")
case("dim-scalar-sum-1", lambda L: (L.tensor(1.0),), lambda L, x: x.sum(1), "dim")
case("dim-t-3d", lambda L: (L.ones(2, 2, 2),), lambda L, x: x.t(), "t")
for idx in [2, -3, (0, 3), (0, -4), (..., 3), (1, 1, 1), (None, 5)]:
    case(f"index-{idx}", lambda L: (m23(L),), lambda L, x, idx=idx: x[idx], "index|indices")
    case(f"setitem-{idx}", lambda L: (m23(L),), lambda L, x, idx=idx: x.__setitem__(idx, 0.0), "index|indices")
# PyTorch accepts two ellipses (the second means nothing); ember refuses: IndexError
case("index-two-ellipsis", lambda L: (m23(L),), lambda L, x: x[..., ...], "ellipsis", exc=IndexError)
case("index-negative-step", lambda L: (m23(L),), lambda L, x: x[::-1], "step")
case("index-zero-step", lambda L: (m23(L),), lambda L, x: x[::0], "step")
case("index-scalar-tensor", lambda L: (L.tensor(1.0),), lambda L, x: x[0], "index")
case("index-empty-dim", lambda L: (L.ones(0, 3),), lambda L, x: x[0], "index")
case("setitem-shape-mismatch", lambda L: (m23(L),), lambda L, x: x.__setitem__(0, L.ones(4)), "copy_|expand")

# ---------------------------------------------------------------- NaN and inf propagate as in PyTorch


def special(L, dtype="float32"):
    return L.tensor([[float("nan"), 1.0, -float("inf")], [float("inf"), -2.0, 0.0]], dtype=getattr(L, dtype))


for f in UNARY_FUNCS[:13]:
    case(f"nan-{f}", lambda L: (special(L),), lambda L, x, f=f: getattr(L, f)(x), f)
for f in ["sum", "mean", "max", "min", "argmax", "argmin"]:
    case(f"nan-{f}", lambda L: (special(L),), lambda L, x, f=f: getattr(x, f)(), f)
    case(f"nan-{f}-dim", lambda L: (special(L, "float64"),), lambda L, x, f=f: getattr(x, f)(1), f)
for f in ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "ge"]:
    case(f"nan-{f}", lambda L: (special(L), special(L).t().reshape(2, 3)), lambda L, a, b, f=f: getattr(L, f)(a, b), f)
case("nan-clamp", lambda L: (special(L),), lambda L, x: x.clamp(-1, 1), "clamp")
case("nan-clamp-nan-bound", lambda L: (special(L),), lambda L, x: x.clamp(min=float("nan")), "clamp")
case("nan-mm", lambda L: (special(L),), lambda L, x: x.mm(x.t()), "mm")
case("nan-where", lambda L: (special(L),), lambda L, x: L.where(x > 0, x, -x), "where")
case("nan-pow-half", lambda L: (special(L),), lambda L, x: x.pow(0.5), "pow")
case("nan-pow-minus-half", lambda L: (special(L),), lambda L, x: x ** -0.5, "pow")
case("nan-rpow", lambda L: (special(L),), lambda L, x: 2 ** x, "pow")
case("nan-zero-div-zero", lambda L: (L.zeros(3),), lambda L, x: x / x, "div")
case("nan-grad", lambda L: (special(L, "float64").requires_grad_(),),
     lambda L, x: L.autograd.grad((x.exp() * x).sum(), x)[0], "grad")

# ---------------------------------------------------------------- empty tensors

E = lambda L: L.ones(0, 3)  # noqa: E731
for f in ["sum", "mean", "argmax", "argmin", "max", "min"]:
    case(f"empty-{f}", lambda L: (E(L),), lambda L, x, f=f: getattr(x, f)(), f)
    case(f"empty-{f}-dim0", lambda L: (E(L),), lambda L, x, f=f: getattr(x, f)(0), f)
    case(f"empty-{f}-dim1", lambda L: (E(L),), lambda L, x, f=f: getattr(x, f)(1), f)
case("empty-item", lambda L: (E(L),), lambda L, x: x.item(), "item")
case("empty-mm", lambda L: (E(L),), lambda L, x: x.t().mm(x), "mm")
case("empty-mm-k0", lambda L: (E(L),), lambda L, x: x.mm(x.t()), "mm")
case("empty-matmul-batch", lambda L: (L.ones(0, 2, 3),), lambda L, x: x @ x.transpose(1, 2), "matmul")
case("empty-view", lambda L: (E(L),), lambda L, x: x.view(3, 0, 5), "view")
case("empty-reshape-minus-one", lambda L: (E(L),), lambda L, x: x.reshape(-1, 0), "reshape")
case("empty-backward", lambda L: (L.ones(0, 3, requires_grad=True),),
     lambda L, x: L.autograd.grad((x * 2).sum(), x)[0], "grad")
case("empty-tensor-list", lambda L: (), lambda L: L.tensor([[], []]), "tensor")
case("empty-expand", lambda L: (L.ones(1, 3),), lambda L, x: x.expand(0, 3) + 1, "expand")

# ---------------------------------------------------------------- numpy arrays

NP = {
    "non-contiguous": lambda: np.arange(12.0, dtype=np.float32).reshape(3, 4)[:, ::2],
    "transposed": lambda: np.arange(6.0).reshape(2, 3).T,
    "negative-stride": lambda: np.arange(6.0)[::-1],
    "read-only": lambda: _readonly(),
    "big-endian": lambda: np.arange(4, dtype=">f4"),
    "big-endian-f8": lambda: np.arange(4, dtype=">f8"),
    "float16": lambda: np.ones(3, dtype=np.float16),
    "int32": lambda: np.arange(3, dtype=np.int32),
    "uint8": lambda: np.arange(3, dtype=np.uint8),
    "uint16": lambda: np.arange(3, dtype=np.uint16),
    "complex64": lambda: np.ones(2, dtype=np.complex64),
    "object": lambda: np.array([1, "a"], dtype=object),
    "str": lambda: np.array(["a", "b"]),
    "datetime": lambda: np.array(["2020-01-01"], dtype="datetime64[D]"),
    "zero-dim": lambda: np.array(3.5),
    "empty": lambda: np.zeros((0, 2)),
    "broadcast": lambda: np.broadcast_to(np.arange(3.0), (2, 3)),
}


def _readonly():
    a = np.array([1.0, 2.0], dtype=np.float32)
    a.flags.writeable = False
    return a


# ember's documented limits where PyTorch goes further (float16 / uint / complex dtypes), and
# where ember.tensor is more lenient (it copies big-endian, negatively strided and small-dtype arrays)
EMBER_LACKS = {"float16", "uint8", "uint16", "int32", "complex64"}
TENSOR_COPIES = {"negative-stride", "big-endian", "big-endian-f8", "float16"}
for k, arr in NP.items():
    exc_t = TypeError if k in EMBER_LACKS else None
    case(f"numpy-tensor-{k}", lambda L: (), lambda L, arr=arr: L.tensor(arr()), "tensor|convert",
         exc=LENIENT if k in TENSOR_COPIES else None if k in ("int32", "uint8", "uint16") else exc_t)
    case(f"numpy-from_numpy-{k}", lambda L: (), lambda L, arr=arr: L.from_numpy(arr()), "from_numpy|numpy|dtype",
         exc=exc_t)
    if arr().dtype.kind == "f" and arr().size >= 2:
        case(f"numpy-add-{k}", lambda L: (v3(L),), lambda L, x, arr=arr: x[:2] + L.tensor(arr()).reshape(-1)[:2],
             "add", exc=LENIENT if k in TENSOR_COPIES else None)


# ---------------------------------------------------------------- autograd misuse

case("inplace-leaf", lambda L: (leaf(L),), lambda L, x: x.add_(1), "add_")
for f, call in [("add_", lambda v: v.add_(1)), ("mul_", lambda v: v.mul_(2)), ("zero_", lambda v: v.zero_()),
                ("fill_", lambda v: v.fill_(1)), ("copy_", lambda v: v.copy_(v * 0)), ("clamp_", lambda v: v.clamp_(0)),
                ("div_", lambda v: v.div_(2)), ("sub_", lambda v: v.sub_(1)), ("pow_", lambda v: v.pow_(2))]:
    case(f"inplace-view-of-leaf-{f}", lambda L: (leaf(L),), lambda L, x, call=call: call(x[0]), f)
    case(f"inplace-transposed-view-of-leaf-{f}", lambda L: (leaf(L),), lambda L, x, call=call: call(x.t()), f)
case("inplace-setitem-leaf", lambda L: (leaf(L),), lambda L, x: x.__setitem__(0, 1.0), "leaf")
case("inplace-view-of-graph-tensor", lambda L: (leaf(L),), lambda L, x: (x * 2)[0].add_(1), "add_",
     exc=NotImplementedError)


def other_graph(L):
    x = L.ones(3, requires_grad=True)
    z = L.ones(3, requires_grad=True)
    return x, z


case("grad-input-from-another-graph", other_graph, lambda L, x, z: L.autograd.grad((x * 2).sum(), z), "graph")
case("grad-allow-unused-none", other_graph,
     lambda L, x, z: L.autograd.grad((x * 2).sum(), z, allow_unused=True), "grad")
case("backward-twice", lambda L: _backward_once(L), lambda L, y: y.backward(), "backward")
case("backward-no-grad-graph", lambda L: (m23(L),), lambda L, x: x.sum().backward(), "grad")
case("backward-under-no-grad", lambda L: (leaf(L),), lambda L, x: _under_no_grad(L, x), "grad")
case("backward-non-scalar", lambda L: (leaf(L),), lambda L, x: (x * 2).backward(), "scalar")
case("backward-gradient-wrong-shape", lambda L: (leaf(L),), lambda L, x: (x * 2).backward(L.ones(3)), "shape")
case("backward-gradient-wrong-shape-scalar", lambda L: (leaf(L),),
     lambda L, x: (x * 2).sum().backward(L.ones(2)), "shape")
case("backward-gradient-wrong-dtype", lambda L: (leaf(L),),
     lambda L, x: (x * 2).backward(L.ones(2, 3, dtype=L.float64)), "backward")
# PyTorch casts an integer gradient to the output's dtype; ember's engine refuses it.
case("backward-gradient-int", lambda L: (leaf(L),),
     lambda L, x: (x * 2).backward(L.ones(2, 3, dtype=L.int64)), "dtype", exc=RuntimeError)
case("grad-outputs-wrong-shape", lambda L: (leaf(L),),
     lambda L, x: L.autograd.grad(x * 2, x, grad_outputs=L.ones(3)), "shape")
case("grad-outputs-wrong-count", lambda L: (leaf(L),),
     lambda L, x: L.autograd.grad([x * 2, x * 3], x, grad_outputs=[L.ones(2, 3)]), "grad")
case("grad-of-non-tensor", lambda L: (leaf(L),), lambda L, x: L.autograd.grad(3.0, x), "grad")
case("grad-wrt-non-leaf-not-in-graph", lambda L: (leaf(L),),
     lambda L, x: L.autograd.grad((x * 2).sum(), x * 3), "graph")
case("grad-wrt-tensor-without-grad", lambda L: (leaf(L), m23(L)),
     lambda L, x, y: L.autograd.grad((x * 2).sum(), y), "grad")
case("backward-after-saved-modified", lambda L: (leaf(L),),
     lambda L, x: _saved_modified(L, x), "inplace")
case("assign-grad-wrong-shape", lambda L: (leaf(L),), lambda L, x: setattr(x, "grad", L.ones(3)), "grad")
case("assign-grad-wrong-dtype", lambda L: (leaf(L),),
     lambda L, x: setattr(x, "grad", L.ones(2, 3, dtype=L.float64)), "grad")
case("assign-grad-non-tensor", lambda L: (leaf(L),), lambda L, x: setattr(x, "grad", "abc"), "grad")
case("requires-grad-false-non-leaf", lambda L: (leaf(L),), lambda L, x: (x * 2).requires_grad_(False), "leaf")
case("retain-grad-no-grad", lambda L: (m23(L),), lambda L, x: x.retain_grad(), "grad")
case("numpy-of-requires-grad", lambda L: (leaf(L),), lambda L, x: x.numpy(), "numpy")


def _backward_once(L):
    y = (leaf(L) * leaf(L)).sum()
    y.backward()
    return (y,)


def _under_no_grad(L, x):
    with L.no_grad():
        y = (x * 2).sum()
    y.backward()


def _saved_modified(L, x):
    y = x * 2
    z = y * y
    y.add_(1)
    z.sum().backward()


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("make, call, op, exc", CASES)
def test_bad_input(make, call, op, exc):
    check(make, call, op, exc)


def test_catalogue_size():
    print(f"\nbad-input catalogue: {len(CASES)} cases")
    assert len(CASES) >= 500

"""The table of op cases behind test_ops.py, and the machinery that runs one case.

An ``OpCase`` is one call written once for both libraries, ``fn(L, *inputs)`` with ``L``
either ``ember`` or ``torch``, plus its numpy reference and its input specs. test_ops.py
feeds every case to three checks: forward vs numpy (float32 and float64), gradients vs
central finite differences (float64) and everything observable vs PyTorch.

An input spec (``Arg``) names the shape the op sees, the value range, and how the input
is laid out: the leaf that requires grad is the *base* tensor and the op receives a view of
it (``.t()``, ``[::2]`` or ``.expand``), so non-contiguous inputs and the gradient flowing
back through the view are covered by the same case.
"""

from __future__ import annotations

import operator
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Arg:
    shape: tuple
    kind: str = (
        "any"  # any, pos, away (|x| >= 0.2), unit (|x| < 0.9), small (ints as floats), int, bool
    )
    layout: str = "contig"  # contig, t, step, expand
    base: tuple | None = None  # the leaf's shape for layout="expand"
    dtype: str | None = None  # fixed dtype; None follows the case's dtype
    grad: bool = True  # the leaf requires grad (floating dtypes only)
    value: Any = None  # explicit values (ties); overrides kind

    def base_shape(self) -> tuple:
        if self.value is not None:
            return np.shape(self.value)
        if self.layout == "t":
            return tuple(reversed(self.shape))
        if self.layout == "step":
            return (2 * self.shape[0],) + tuple(self.shape[1:])
        if self.layout == "expand":
            return self.base
        return tuple(self.shape)

    def view(self, x):
        """The op's input seen through this layout; works for ember, torch and numpy."""
        if self.layout == "t":
            return x.T if isinstance(x, np.ndarray) else x.t()
        if self.layout == "step":
            return x[::2]
        if self.layout == "expand":
            return (
                np.broadcast_to(x, self.shape)
                if isinstance(x, np.ndarray)
                else x.expand(*self.shape)
            )
        return x

    def data(self, rng: np.random.Generator, dtype: str) -> np.ndarray:
        dt = self.dtype or dtype
        shape = self.base_shape()
        if self.value is not None:
            return np.array(self.value, dtype=dt)
        if self.kind == "bool" or dt == "bool":
            return rng.random(shape) < 0.5
        if self.kind == "int" or dt == "int64":
            return rng.integers(-3, 4, size=shape).astype(dt)
        if self.kind == "pos":
            v = rng.uniform(0.5, 2.0, shape)
        elif self.kind == "away":
            v = rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        elif self.kind == "unit":
            v = rng.uniform(-0.9, 0.9, shape)
        elif self.kind == "small":
            v = rng.integers(-2, 3, size=shape).astype(np.float64)
        else:
            v = rng.standard_normal(shape)
        return np.asarray(v, dtype=dt)


def A(*shape, **kw) -> Arg:
    return Arg(tuple(shape), **kw)


# ---------------------------------------------------------------- cases


@dataclass
class OpCase:
    id: str
    fn: Callable  # fn(L, *inputs) -> tensor or tuple of tensors
    args: list
    ref: Callable | None = None  # numpy: ref(*arrays) -> array or tuple; None: no numpy check
    fd: bool = True  # check gradients with finite differences
    torch: bool = True  # compare with PyTorch
    dtypes: tuple = ("float32", "float64")
    marks: list = field(default_factory=list)

    def arrays(self, dtype: str) -> list:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return [a.data(rng, dtype) for a in self.args]

    def weights(self, shape) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()) + 1)
        return rng.standard_normal(shape)


CASES: list = []


def case(id, fn, args, ref=None, **kw):
    assert all(c.id != id for c in CASES), f"duplicate case id {id}"
    CASES.append(OpCase(id, fn, list(args), ref, **kw))


def np_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


# ---- binary arithmetic: every op, every broadcasting/layout pair, as module function

PAIRS = {
    "same": (A(3, 4), A(3, 4)),
    "row": (A(3, 4), A(4)),
    "outer": (A(3, 1), A(1, 4)),
    "3d": (A(2, 1, 4), A(3, 1)),
    "0d_lhs": (A(), A(2, 3)),
    "0d_rhs": (A(2, 3), A()),
    "0d_0d": (A(), A()),
    "size0": (A(0, 3), A(3)),
    "size1": (A(1), A(2, 3)),
    "t": (A(3, 4, layout="t"), A(3, 4)),
    "step": (A(3, 4, layout="step"), A(4, layout="step")),
    "expand": (A(3, 4, layout="expand", base=(1, 4)), A(3, 4, layout="expand", base=(3, 1))),
    "lhs_only": (A(3, 4), A(4, grad=False)),
    "rhs_only": (A(3, 4, grad=False), A(3, 4)),
}


def _with_kind(args, kind):
    return tuple(Arg(**{**a.__dict__, "kind": kind}) for a in args)


BINARY = {
    # name: (function, numpy, kind of lhs, kind of rhs)
    "add": (lambda L, a, b: L.add(a, b), np.add, "any", "any"),
    "sub": (lambda L, a, b: L.sub(a, b), np.subtract, "any", "any"),
    "mul": (lambda L, a, b: L.mul(a, b), np.multiply, "any", "any"),
    "div": (lambda L, a, b: L.div(a, b), np_div, "any", "away"),
    "true_divide": (lambda L, a, b: L.true_divide(a, b), np_div, "any", "away"),
    "pow": (lambda L, a, b: L.pow(a, b), np.power, "pos", "any"),
    "maximum": (lambda L, a, b: L.maximum(a, b), np.maximum, "any", "any"),
    "minimum": (lambda L, a, b: L.minimum(a, b), np.minimum, "any", "any"),
}

for _name, (_fn, _ref, _ka, _kb) in BINARY.items():
    for _pair, (_a, _b) in PAIRS.items():
        case(f"{_name}[{_pair}]", _fn, (_with_kind((_a,), _ka)[0], _with_kind((_b,), _kb)[0]), _ref)

# methods and operators, same pair
X, Y, YA, XP = A(3, 4), A(3, 4), A(3, 4, kind="away"), A(3, 4, kind="pos")
case("add.method", lambda L, a, b: a.add(b), (X, Y), np.add)
case("add.op", lambda L, a, b: a + b, (X, A(4)), np.add)
case("add.alpha", lambda L, a, b: L.add(a, b, alpha=2), (X, Y), lambda a, b: a + 2 * b)
case("add.alpha_float", lambda L, a, b: a.add(b, alpha=-0.5), (X, A(4)), lambda a, b: a - 0.5 * b)
case("add.scalar", lambda L, a: a.add(2.5), (X,), lambda a: a + 2.5)
case("add.scalar_alpha", lambda L, a: a.add(2, alpha=3), (X,), lambda a: a + 6)
case("add.op_scalar", lambda L, a: a + 2, (X,), lambda a: a + 2)
case("add.rop_scalar", lambda L, a: 1.5 + a, (X,), lambda a: 1.5 + a)
case("add.op_0d_tensor", lambda L, a: a + L.tensor(2.0, dtype=a.dtype), (X,), lambda a: a + 2)
case("add.func_scalar_input", lambda L, a: L.add(1.5, a, alpha=2), (X,), lambda a: 1.5 + 2 * a)
case("sub.func_scalar_input", lambda L, a: L.sub(2, a), (X,), lambda a: 2 - a)
case("mul.func_scalar_input", lambda L, a: L.mul(2, a), (X,), lambda a: 2 * a)
case("div.func_scalar_input", lambda L, a: L.div(2, a), (YA,), lambda a: 2 / a)
case("true_divide.func_scalar_input", lambda L, a: L.true_divide(3, a), (YA,), lambda a: 3 / a)
case("sub.method", lambda L, a, b: a.sub(b), (X, Y), np.subtract)
case("sub.op", lambda L, a, b: a - b, (X, A(4)), np.subtract)
case("sub.alpha", lambda L, a, b: L.sub(a, b, alpha=3), (X, Y), lambda a, b: a - 3 * b)
case("sub.alpha_method", lambda L, a, b: a.sub(b, alpha=0.5), (X, Y), lambda a, b: a - 0.5 * b)
case("sub.op_scalar", lambda L, a: a - 2, (X,), lambda a: a - 2)
case("sub.scalar", lambda L, a: L.sub(a, 1.5), (X,), lambda a: a - 1.5)
case("rsub.op_scalar", lambda L, a: 2 - a, (X,), lambda a: 2 - a)
case("rsub.op_float", lambda L, a: 0.5 - a, (A(4),), lambda a: 0.5 - a)
case("mul.method", lambda L, a, b: a.mul(b), (X, Y), np.multiply)
case("mul.op", lambda L, a, b: a * b, (X, A(3, 1)), np.multiply)
case("mul.op_scalar", lambda L, a: a * 3, (X,), lambda a: a * 3)
case("mul.rop_scalar", lambda L, a: 2.5 * a, (X,), lambda a: 2.5 * a)
case("mul.scalar", lambda L, a: L.mul(a, -2), (X,), lambda a: a * -2)
case("mul.self", lambda L, a: a * a, (X,), lambda a: a * a)
case("div.method", lambda L, a, b: a.div(b), (X, YA), np_div)
case("div.op", lambda L, a, b: a / b, (X, A(4, kind="away")), np_div)
case("div.op_scalar", lambda L, a: a / 4, (X,), lambda a: a / 4)
case("div.scalar", lambda L, a: L.div(a, 0.5), (X,), lambda a: a / 0.5)
case("div.rop_scalar", lambda L, a: 2 / a, (YA,), lambda a: 2 / a)
case("div.rop_float", lambda L, a: 1.5 / a, (A(5, kind="away"),), lambda a: 1.5 / a)
case("neg.op", lambda L, a: -a, (X,), np.negative)
case("neg.func", lambda L, a: L.neg(a), (X,), np.negative)
case("negative.func", lambda L, a: L.negative(a), (X,), np.negative)
case("pos.op", lambda L, a: +(a * 1), (X,), lambda a: a)
case("pow.method_tensor", lambda L, a, b: a.pow(b), (XP, Y), np.power)
case("pow.op_tensor", lambda L, a, b: a**b, (XP, A(4)), np.power)
case("pow.base_only", lambda L, a, b: a**b, (XP, A(3, 4, grad=False)), np.power)
case("pow.exp_only", lambda L, a, b: a**b, (A(3, 4, kind="pos", grad=False), Y), np.power)
case("pow.zero_exp_tensor", lambda L, a, b: a**b, (XP, A(3, 4, value=np.zeros((3, 4)))), np.power)
for _e, _kind in [
    (2, "any"),
    (3, "any"),
    (0.5, "pos"),
    (-1, "away"),
    (-2.5, "pos"),
    (0, "any"),
    (1, "any"),
]:
    case(
        f"pow.scalar_exp[{_e}]",
        lambda L, a, e=_e: a.pow(e),
        (A(3, 4, kind=_kind),),
        lambda a, e=_e: np.power(a, e),
    )
case("pow.op_scalar", lambda L, a: a**2, (X,), lambda a: a**2)
case("pow.op_scalar_float", lambda L, a: a**1.5, (XP,), lambda a: a**1.5)
case("pow.func_scalar", lambda L, a: L.pow(a, 3), (X,), lambda a: a**3)
case("pow.scalar_base", lambda L, a: 2**a, (X,), lambda a: 2.0**a)
case("pow.scalar_base_float", lambda L, a: 0.5**a, (A(5),), lambda a: 0.5**a)
case("pow.func_scalar_base", lambda L, a: L.pow(3, a), (X,), lambda a: 3.0**a)
case("maximum.method", lambda L, a, b: a.maximum(b), (X, A(4)), np.maximum)
case("minimum.method", lambda L, a, b: a.minimum(b), (X, A(4)), np.minimum)
_TIE_A = [[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]]
_TIE_B = [[1.0, 0.0, 3.0], [2.0, -1.0, 4.0]]
case(
    "maximum.ties",
    lambda L, a, b: L.maximum(a, b),
    (A(value=_TIE_A), A(value=_TIE_B)),
    np.maximum,
    fd=False,
)
case(
    "minimum.ties",
    lambda L, a, b: L.minimum(a, b),
    (A(value=_TIE_A), A(value=_TIE_B)),
    np.minimum,
    fd=False,
)
case("max.binary", lambda L, a, b: L.max(a, b), (X, Y), np.maximum)
case("min.binary_method", lambda L, a, b: a.min(b), (X, Y), np.minimum)

# ---- unary math: each op on every layout as module function, and as method

UNARY = {
    "exp": (np.exp, "any"),
    "log": (np.log, "pos"),
    "sqrt": (np.sqrt, "pos"),
    "tanh": (np.tanh, "any"),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), "any"),
    "relu": (lambda a: np.maximum(a, 0).astype(a.dtype), "away"),
    "abs": (np.abs, "away"),
    "sin": (np.sin, "any"),
    "cos": (np.cos, "any"),
    "sign": (np.sign, "away"),
    "reciprocal": (lambda a: 1 / a, "away"),
    "neg": (np.negative, "any"),
}
UNARY_SHAPES = {
    "2d": A(3, 4),
    "0d": A(),
    "size0": A(2, 0),
    "size1": A(1, 1),
    "t": A(3, 4, layout="t"),
    "step": A(3, 2, layout="step"),
    "expand": A(2, 3, layout="expand", base=(1, 3)),
}
for _name, (_ref, _kind) in UNARY.items():
    for _s, _a in UNARY_SHAPES.items():
        case(
            f"{_name}[{_s}]",
            lambda L, a, n=_name: getattr(L, n)(a),
            (Arg(**{**_a.__dict__, "kind": _kind}),),
            _ref,
        )
    case(f"{_name}.method", lambda L, a, n=_name: getattr(a, n)(), (A(5, kind=_kind),), _ref)
case("abs.builtin", lambda L, a: abs(a), (A(4, kind="away"),), np.abs)
case(
    "relu.zero",
    lambda L, a: L.relu(a),
    (A(value=[-1.0, 0.0, 2.0]),),
    lambda a: np.maximum(a, 0),
    fd=False,
)
case("abs.zero", lambda L, a: L.abs(a), (A(value=[-1.0, 0.0, 2.0]),), np.abs, fd=False)
case("sign.zero", lambda L, a: L.sign(a), (A(value=[-1.0, 0.0, 2.0]),), np.sign, fd=False)

# ---- clamp / clip

CL = A(3, 4, kind="unit")
case("clamp.min", lambda L, a: L.clamp(a, min=-0.3), (CL,), lambda a: np.maximum(a, -0.3))
case("clamp.max", lambda L, a: a.clamp(max=0.4), (CL,), lambda a: np.minimum(a, 0.4))
case("clamp.both", lambda L, a: a.clamp(-0.3, 0.4), (CL,), lambda a: np.clip(a, -0.3, 0.4))
case("clamp.int_bounds", lambda L, a: a.clamp(-1, 1), (A(3, 4),), lambda a: np.clip(a, -1, 1))
case(
    "clamp.t",
    lambda L, a: a.clamp(-0.3, 0.4),
    (A(3, 4, kind="unit", layout="t"),),
    lambda a: np.clip(a, -0.3, 0.4),
)
case("clamp.tensor_min", lambda L, a, lo: a.clamp(min=lo), (CL, A(4, kind="unit")), np.maximum)
case(
    "clamp.tensor_max", lambda L, a, hi: L.clamp(a, max=hi), (CL, A(3, 1, kind="unit")), np.minimum
)
case(
    "clamp.tensor_both",
    lambda L, a, lo, hi: a.clamp(lo, hi),
    (CL, A(4, kind="unit"), A(3, 1, kind="unit")),
    lambda a, lo, hi: np.minimum(np.maximum(a, lo), hi),
)
case(
    "clamp.tensor_min_nograd",
    lambda L, a, lo: a.clamp(min=lo),
    (CL, A(4, kind="unit", grad=False)),
    np.maximum,
)
case(
    "clamp.tensor_bound_only",
    lambda L, a, lo: a.clamp(min=lo),
    (A(3, 4, kind="unit", grad=False), A(4, kind="unit")),
    np.maximum,
)
case("clip.both", lambda L, a: L.clip(a, -0.3, 0.4), (CL,), lambda a: np.clip(a, -0.3, 0.4))
case("clip.method", lambda L, a: a.clip(min=-0.2), (CL,), lambda a: np.maximum(a, -0.2))

# ---- where

COND = A(3, 4, dtype="bool")
case("where.func", lambda L, c, a, b: L.where(c, a, b), (COND, X, Y), np.where)
case(
    "where.broadcast",
    lambda L, c, a, b: L.where(c, a, b),
    (A(3, 1, dtype="bool"), A(4), A(3, 4)),
    np.where,
)
case(
    "where.scalar_other",
    lambda L, c, a: L.where(c, a, 0.0),
    (COND, X),
    lambda c, a: np.where(c, a, 0.0),
)
case("where.method", lambda L, c, a, b: a.where(c, b), (COND, X, Y), np.where)
case(
    "where.lhs_only", lambda L, c, a, b: L.where(c, a, b), (COND, X, A(3, 4, grad=False)), np.where
)
case("where.from_compare", lambda L, a, b: L.where(a > b, a, b), (X, Y), np.maximum)
case(
    "where.size0",
    lambda L, c, a, b: L.where(c, a, b),
    (A(0, 2, dtype="bool"), A(0, 2), A(2)),
    np.where,
)

# ---- comparisons and logical ops (bool results, no grad)

CMP = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
SM = A(3, 4, kind="small")
for _name, _ref in CMP.items():
    _op = getattr(
        operator, _name
    )  # operator.lt(a, b) is `a < b`; with a number first, Python reflects it
    case(
        f"{_name}.func",
        lambda L, a, b, n=_name: getattr(L, n)(a, b),
        (SM, A(4, kind="small")),
        _ref,
        fd=False,
    )
    case(
        f"{_name}.method",
        lambda L, a, b, n=_name: getattr(a, n)(b),
        (SM, A(3, 4, kind="small", layout="t")),
        _ref,
        fd=False,
    )
    case(
        f"{_name}.op", lambda L, a, b, op=_op: op(a, b), (SM, A(3, 1, kind="small")), _ref, fd=False
    )
    case(
        f"{_name}.op_scalar",
        lambda L, a, op=_op: op(a, 1),
        (SM,),
        lambda a, r=_ref: r(a, 1),
        fd=False,
    )
    case(
        f"{_name}.rop_scalar",
        lambda L, a, op=_op: op(0.0, a),
        (SM,),
        lambda a, r=_ref: r(0.0, a),
        fd=False,
    )
    case(
        f"{_name}.0d",
        lambda L, a, b, n=_name: getattr(L, n)(a, b),
        (A(kind="small"), A(kind="small")),
        _ref,
        fd=False,
    )
    case(
        f"{_name}.size0",
        lambda L, a, b, n=_name: getattr(L, n)(a, b),
        (A(0, 4), A(4)),
        _ref,
        fd=False,
    )
case(
    "logical_and.bool",
    lambda L, a, b: L.logical_and(a, b),
    (A(3, 4, dtype="bool"), A(4, dtype="bool")),
    np.logical_and,
    fd=False,
)
case(
    "logical_or.bool",
    lambda L, a, b: a.logical_or(b),
    (A(3, 4, dtype="bool"), A(3, 4, dtype="bool")),
    np.logical_or,
    fd=False,
)
case(
    "logical_not.bool",
    lambda L, a: L.logical_not(a),
    (A(3, 4, dtype="bool"),),
    np.logical_not,
    fd=False,
)
case("logical_and.float", lambda L, a, b: L.logical_and(a, b), (SM, SM), np.logical_and, fd=False)
case(
    "logical_or.float",
    lambda L, a, b: L.logical_or(a, b),
    (SM, A(4, kind="small")),
    np.logical_or,
    fd=False,
)
case("logical_not.float", lambda L, a: a.logical_not(), (SM,), np.logical_not, fd=False)
case(
    "logical_and.op",
    lambda L, a, b: a & b,
    (A(3, 4, dtype="bool"), A(4, dtype="bool")),
    np.logical_and,
    fd=False,
)
case(
    "logical_or.op",
    lambda L, a, b: a | b,
    (A(3, 4, dtype="bool"), A(4, dtype="bool")),
    np.logical_or,
    fd=False,
)
case("logical_not.op", lambda L, a: ~a, (A(3, 4, dtype="bool"),), np.logical_not, fd=False)

# ---- reductions

R = A(2, 3, 4)
case("sum.all", lambda L, a: a.sum(), (R,), np.sum)
case("sum.func", lambda L, a: L.sum(a), (R,), np.sum)
case("sum.dim", lambda L, a: a.sum(1), (R,), lambda a: a.sum(1))
case("sum.neg_dim", lambda L, a: a.sum(dim=-1), (R,), lambda a: a.sum(-1))
case("sum.tuple", lambda L, a: a.sum((0, 2)), (R,), lambda a: a.sum((0, 2)))
case("sum.keepdim", lambda L, a: L.sum(a, 1, keepdim=True), (R,), lambda a: a.sum(1, keepdims=True))
case(
    "sum.tuple_keepdim",
    lambda L, a: a.sum((-1, 0), True),
    (R,),
    lambda a: a.sum((0, 2), keepdims=True),
)
case(
    "sum.dtype",
    lambda L, a: a.sum(dtype=L.float64),
    (A(3, 4, dtype="float32"),),
    lambda a: a.astype(np.float64).sum(),
)
case(
    "sum.dim_dtype",
    lambda L, a: a.sum(0, dtype=L.float64),
    (A(3, 4, dtype="float32"),),
    lambda a: a.astype(np.float64).sum(0),
)
case("sum.0d", lambda L, a: a.sum(), (A(),), np.sum)
case("sum.0d_dim", lambda L, a: a.sum(0), (A(),), lambda a: a.sum())
case("sum.size0", lambda L, a: a.sum(), (A(0, 3),), np.sum)
case("sum.size0_dim", lambda L, a: a.sum(0), (A(0, 3),), lambda a: a.sum(0))
case("sum.t", lambda L, a: a.sum(0), (A(3, 4, layout="t"),), lambda a: a.sum(0))
case("sum.step", lambda L, a: a.sum(1), (A(3, 4, layout="step"),), lambda a: a.sum(1))
case("sum.expand", lambda L, a: a.sum(), (A(3, 4, layout="expand", base=(3, 1)),), np.sum)
case("sum.int", lambda L, a: a.sum(), (A(3, 4, dtype="int64"),), np.sum, fd=False)
case("sum.bool", lambda L, a: a.sum(0), (A(3, 4, dtype="bool"),), lambda a: a.sum(0), fd=False)
case("mean.all", lambda L, a: a.mean(), (R,), np.mean)
case("mean.func", lambda L, a: L.mean(a), (R,), np.mean)
case("mean.dim", lambda L, a: a.mean(1), (R,), lambda a: a.mean(1))
case("mean.neg_dim", lambda L, a: a.mean(-2), (R,), lambda a: a.mean(-2))
case("mean.tuple", lambda L, a: a.mean((0, 1)), (R,), lambda a: a.mean((0, 1)))
case(
    "mean.keepdim",
    lambda L, a: L.mean(a, dim=2, keepdim=True),
    (R,),
    lambda a: a.mean(2, keepdims=True),
)
case(
    "mean.dtype",
    lambda L, a: a.mean(dtype=L.float64),
    (A(3, 4, dtype="float32"),),
    lambda a: a.astype(np.float64).mean(),
)
case("mean.0d", lambda L, a: a.mean(), (A(),), np.mean)
case("mean.t", lambda L, a: a.mean(1), (A(3, 4, layout="t"),), lambda a: a.mean(1))
case(
    "mean.expand",
    lambda L, a: a.mean(0),
    (A(3, 4, layout="expand", base=(1, 4)),),
    lambda a: a.mean(0),
)

_TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.0, 2.0], [-5.0, -5.0, -5.0, -5.0]]


def np_max_dim(a, d, keepdim=False, fn=np.max, arg=np.argmax):
    return fn(a, axis=d, keepdims=keepdim), np.expand_dims(arg(a, axis=d), d) if keepdim else arg(
        a, axis=d
    )


for _mm, _np_fn, _np_arg in [("max", np.max, np.argmax), ("min", np.min, np.argmin)]:
    case(f"{_mm}.all", lambda L, a, m=_mm: getattr(a, m)(), (R,), _np_fn)
    case(f"{_mm}.all_func", lambda L, a, m=_mm: getattr(L, m)(a), (A(5),), _np_fn)
    case(
        f"{_mm}.all_ties", lambda L, a, m=_mm: getattr(a, m)(), (A(value=_TIES),), _np_fn, fd=False
    )
    case(f"{_mm}.all_0d", lambda L, a, m=_mm: getattr(a, m)(), (A(),), _np_fn)
    case(f"{_mm}.all_t", lambda L, a, m=_mm: getattr(a, m)(), (A(3, 4, layout="t"),), _np_fn)
    case(
        f"{_mm}.dim",
        lambda L, a, m=_mm: getattr(a, m)(1),
        (R,),
        lambda a, f=_np_fn, g=_np_arg: np_max_dim(a, 1, False, f, g),
    )
    case(
        f"{_mm}.neg_dim",
        lambda L, a, m=_mm: getattr(L, m)(a, -1),
        (R,),
        lambda a, f=_np_fn, g=_np_arg: np_max_dim(a, -1, False, f, g),
    )
    case(
        f"{_mm}.keepdim",
        lambda L, a, m=_mm: getattr(a, m)(dim=0, keepdim=True),
        (R,),
        lambda a, f=_np_fn, g=_np_arg: np_max_dim(a, 0, True, f, g),
    )
    case(
        f"{_mm}.dim_ties",
        lambda L, a, m=_mm: getattr(a, m)(1),
        (A(value=_TIES),),
        lambda a, f=_np_fn, g=_np_arg: np_max_dim(a, 1, False, f, g),
        fd=False,
    )
    case(
        f"{_mm}.dim0_ties",
        lambda L, a, m=_mm: getattr(a, m)(0),
        (A(value=_TIES),),
        lambda a, f=_np_fn, g=_np_arg: np_max_dim(a, 0, False, f, g),
        fd=False,
    )
    case(
        f"{_mm}.dim_t",
        lambda L, a, m=_mm: getattr(a, m)(0),
        (A(3, 4, layout="t"),),
        lambda a, f=_np_fn, g=_np_arg: np_max_dim(a, 0, False, f, g),
    )
    case(
        f"{_mm}.dim_0d",
        lambda L, a, m=_mm: getattr(a, m)(0),
        (A(),),
        lambda a, f=_np_fn, g=_np_arg: (a, np.array(0)),
    )
    case(
        f"{_mm}.dim_values",
        lambda L, a, m=_mm: getattr(a, m)(1).values,
        (R,),
        lambda a, f=_np_fn: f(a, axis=1),
    )
    case(
        f"{_mm}.dim_indices",
        lambda L, a, m=_mm: getattr(a, m)(1).indices,
        (R,),
        lambda a, g=_np_arg: g(a, axis=1),
        fd=False,
    )
    _arg = "arg" + _mm
    case(f"{_arg}.all", lambda L, a, m=_arg: getattr(a, m)(), (R,), _np_arg, fd=False)
    case(
        f"{_arg}.func_dim",
        lambda L, a, m=_arg: getattr(L, m)(a, 1),
        (R,),
        lambda a, g=_np_arg: g(a, 1),
        fd=False,
    )
    case(
        f"{_arg}.neg_dim_keepdim",
        lambda L, a, m=_arg: getattr(a, m)(-1, keepdim=True),
        (R,),
        lambda a, g=_np_arg: np.expand_dims(g(a, -1), -1),
        fd=False,
    )
    case(f"{_arg}.ties", lambda L, a, m=_arg: getattr(a, m)(), (A(value=_TIES),), _np_arg, fd=False)
    case(
        f"{_arg}.all_keepdim",
        lambda L, a, m=_arg: getattr(a, m)(keepdim=True),
        (R,),
        lambda a, g=_np_arg: np.reshape(g(a), (1, 1, 1)),
        fd=False,
    )
    case(
        f"{_arg}.ties_dim",
        lambda L, a, m=_arg: getattr(a, m)(dim=1),
        (A(value=_TIES),),
        lambda a, g=_np_arg: g(a, 1),
        fd=False,
    )
    case(
        f"{_arg}.t",
        lambda L, a, m=_arg: getattr(a, m)(0),
        (A(3, 4, layout="t"),),
        lambda a, g=_np_arg: g(a, 0),
        fd=False,
    )
    case(
        f"{_arg}.int",
        lambda L, a, m=_arg: getattr(a, m)(1),
        (A(3, 4, dtype="int64"),),
        lambda a, g=_np_arg: g(a, 1),
        fd=False,
    )

# ---- linear algebra

case("mm.func", lambda L, a, b: L.mm(a, b), (A(3, 4), A(4, 2)), np.matmul)
case("mm.method", lambda L, a, b: a.mm(b), (A(3, 4), A(4, 2)), np.matmul)
case("mm.t", lambda L, a, b: L.mm(a, b), (A(3, 4, layout="t"), A(4, 2, layout="t")), np.matmul)
case("mm.step", lambda L, a, b: L.mm(a, b), (A(3, 4, layout="step"), A(4, 2)), np.matmul)
case(
    "mm.expand",
    lambda L, a, b: L.mm(a, b),
    (A(3, 4, layout="expand", base=(1, 4)), A(4, 2)),
    np.matmul,
)
case("mm.lhs_only", lambda L, a, b: L.mm(a, b), (A(3, 4), A(4, 2, grad=False)), np.matmul)
case("mm.rhs_only", lambda L, a, b: L.mm(a, b), (A(3, 4, grad=False), A(4, 2)), np.matmul)
case("mm.size0_k", lambda L, a, b: L.mm(a, b), (A(3, 0), A(0, 2)), np.matmul)
case("mm.size0_m", lambda L, a, b: L.mm(a, b), (A(0, 4), A(4, 2)), np.matmul)
case("mm.size1", lambda L, a, b: L.mm(a, b), (A(1, 1), A(1, 1)), np.matmul)
# addmm: beta * input + alpha * (mat1 @ mat2), the input broadcast to the product's shape
_ADDMM_BIAS = {"row": A(2), "full": A(3, 2), "col": A(3, 1), "0d": A(), "expand": A(3, 2, layout="expand", base=(1, 2))}
for _k, _b in _ADDMM_BIAS.items():
    case(f"addmm.{_k}", lambda L, b, x, w: L.addmm(b, x, w), (_b, A(3, 4), A(4, 2)), lambda b, x, w: b + x @ w)
case(
    "addmm.scaled",
    lambda L, b, x, w: L.addmm(b, x, w, beta=0.5, alpha=-2),
    (A(2), A(3, 4), A(4, 2)),
    lambda b, x, w: 0.5 * b + -2 * (x @ w),
)
case(
    "addmm.int_scalars",
    lambda L, b, x, w: L.addmm(b, x, w, beta=3, alpha=2),
    (A(3, 2), A(3, 4, layout="t"), A(4, 2, layout="step")),
    lambda b, x, w: 3 * b + 2 * (x @ w),
)
case("addmm.beta0", lambda L, b, x, w: L.addmm(b, x, w, beta=0), (A(2), A(3, 4), A(4, 2)), lambda b, x, w: x @ w)
case("addmm.method", lambda L, b, x, w: b.addmm(x, w), (A(3, 2), A(3, 4), A(4, 2, layout="t")), lambda b, x, w: b + x @ w)
case("addmm.bias_only", lambda L, b, x, w: L.addmm(b, x, w), (A(2), A(3, 4, grad=False), A(4, 2, grad=False)),
     lambda b, x, w: b + x @ w)
case("addmm.mat1_only", lambda L, b, x, w: L.addmm(b, x, w), (A(2, grad=False), A(3, 4), A(4, 2, grad=False)),
     lambda b, x, w: b + x @ w)
case("addmm.mat2_only", lambda L, b, x, w: L.addmm(b, x, w, alpha=1.5), (A(2, grad=False), A(3, 4, grad=False), A(4, 2)),
     lambda b, x, w: b + 1.5 * (x @ w))
case("addmm.size0_k", lambda L, b, x, w: L.addmm(b, x, w, beta=2), (A(2), A(3, 0), A(0, 2)), lambda b, x, w: 2 * b + x @ w)
case("addmm.size0_m", lambda L, b, x, w: L.addmm(b, x, w), (A(2), A(0, 4), A(4, 2)), lambda b, x, w: b + x @ w)
case("addmm.int", lambda L, b, x, w: L.addmm(b, x, w, beta=2), (A(2, dtype="int64"), A(3, 4, dtype="int64"),
     A(4, 2, dtype="int64")), lambda b, x, w: 2 * b + x @ w, fd=False)
case(
    "addmm_.inplace",
    lambda L, b, x, w: (lambda c: (c.addmm_(x, w, beta=0.5, alpha=3), c)[1])(b * 1),
    (A(3, 2), A(3, 4), A(4, 2, layout="t")),
    lambda b, x, w: 0.5 * b + 3 * (x @ w),
)
case("mv.func", lambda L, a, v: L.mv(a, v), (A(3, 4), A(4)), np.matmul)
case("mv.method", lambda L, a, v: a.mv(v), (A(3, 4, layout="t"), A(4, layout="step")), np.matmul)
case("dot.func", lambda L, a, b: L.dot(a, b), (A(5), A(5)), np.dot)
case("dot.method", lambda L, a, b: a.dot(b), (A(4, layout="step"), A(4)), np.dot)
case("dot.size0", lambda L, a, b: L.dot(a, b), (A(0), A(0)), np.dot)
case("bmm.func", lambda L, a, b: L.bmm(a, b), (A(2, 3, 4), A(2, 4, 2)), np.matmul)
case("bmm.method", lambda L, a, b: a.bmm(b), (A(2, 3, 4, layout="step"), A(2, 4, 2)), np.matmul)
MATMUL = {
    "1d_1d": (A(4), A(4)),
    "2d_1d": (A(3, 4), A(4)),
    "1d_2d": (A(4), A(4, 2)),
    "2d_2d": (A(3, 4), A(4, 2)),
    "3d_3d": (A(2, 3, 4), A(2, 4, 2)),
    "3d_2d": (A(2, 3, 4), A(4, 2)),
    "3d_1d": (A(2, 3, 4), A(4)),
    "1d_3d": (A(4), A(2, 4, 3)),
    "2d_3d": (A(3, 4), A(2, 4, 2)),
    "bcast_batch": (A(2, 1, 3, 4), A(3, 4, 2)),
    "bcast_batch1": (A(1, 3, 4), A(2, 4, 2)),
    "t": (A(3, 4, layout="t"), A(4, 2, layout="t")),
    "3d_2d_t": (A(2, 3, 4, layout="step"), A(4, 2, layout="t")),
    # which operand needs a gradient decides between folding into mm/mv and bmm
    "3d_2d_lhs_only": (A(2, 3, 4), A(4, 2, grad=False)),
    "3d_2d_step_lhs_only": (A(2, 3, 4, layout="step"), A(4, 2, grad=False)),
    "3d_1d_lhs_only": (A(2, 3, 4), A(4, grad=False)),
    "1d_3d_rhs_only": (A(4, grad=False), A(2, 4, 3)),
    "2d_3d_rhs_only": (A(3, 4, grad=False), A(2, 4, 2)),
    "4d_1d": (A(2, 2, 3, 4), A(4)),
    "1d_4d_rhs_only": (A(4, grad=False), A(2, 1, 4, 3)),
    "size0_batch": (A(0, 3, 4), A(4, 2)),
    "3d_3d_bcast_lhs1": (A(1, 3, 4), A(2, 4, 2)),
    "3d_3d_bcast_rhs1": (A(2, 3, 4), A(1, 4, 2)),
    "3d_3d_bcast_lhs1_nograd": (A(1, 3, 4, grad=False), A(2, 4, 2)),
    "3d_3d_bcast_rhs1_nograd": (A(2, 3, 4), A(1, 4, 2, grad=False)),
    "3d_3d_both1": (A(1, 3, 4), A(1, 4, 2)),
}
for _k, (_a, _b) in MATMUL.items():
    case(f"matmul[{_k}]", lambda L, a, b: L.matmul(a, b), (_a, _b), np.matmul)
case("matmul.op", lambda L, a, b: a @ b, (A(2, 3, 4), A(4, 2)), np.matmul)
case("matmul.method", lambda L, a, b: a.matmul(b), (A(3, 4), A(4)), np.matmul)

# ---- shape ops and views

S = A(3, 4)
case("reshape.method", lambda L, a: a.reshape(2, 6), (S,), lambda a: a.reshape(2, 6))
case("reshape.tuple", lambda L, a: a.reshape((4, -1)), (S,), lambda a: a.reshape(4, -1))
case("reshape.func", lambda L, a: L.reshape(a, (-1,)), (S,), lambda a: a.reshape(-1))
case("reshape.copy_t", lambda L, a: a.reshape(12), (A(3, 4, layout="t"),), lambda a: a.reshape(12))
case(
    "reshape.alias_t",
    lambda L, a: a.reshape(3, 2, 2),
    (A(3, 4, layout="t"),),
    lambda a: a.reshape(3, 2, 2),
)
case(
    "reshape.alias_step",
    lambda L, a: a.reshape(3, 1, 4),
    (A(3, 4, layout="step"),),
    lambda a: a.reshape(3, 1, 4),
)
case(
    "reshape.copy_expand",
    lambda L, a: a.reshape(-1),
    (A(3, 4, layout="expand", base=(3, 1)),),
    lambda a: a.reshape(-1),
)
case("reshape.0d", lambda L, a: a.reshape(1, 1), (A(),), lambda a: a.reshape(1, 1))
case("reshape.to_0d", lambda L, a: a.reshape(()), (A(1),), lambda a: a.reshape(()))
case("reshape.size0", lambda L, a: a.reshape(3, 0), (A(0, 3),), lambda a: a.reshape(3, 0))
case("view.sizes", lambda L, a: a.view(4, 3), (S,), lambda a: a.reshape(4, 3))
case("view.neg1", lambda L, a: a.view(-1), (S,), lambda a: a.reshape(-1))
case("view.tuple_neg1", lambda L, a: a.view((2, -1, 2)), (S,), lambda a: a.reshape(2, -1, 2))
case(
    "view.step",
    lambda L, a: a.view(3, 1, 2),
    (A(3, 2, layout="step"),),
    lambda a: a.reshape(3, 1, 2),
)
case(
    "view_as",
    lambda L, a, b: a.view_as(b),
    (S, A(2, 6, grad=False)),
    lambda a, b: a.reshape(b.shape),
)
case("t.method", lambda L, a: a.t(), (S,), np.transpose)
case("t.func", lambda L, a: L.t(a), (S,), np.transpose)
case("t.1d", lambda L, a: a.t(), (A(4),), lambda a: a)
case("t.0d", lambda L, a: a.t(), (A(),), lambda a: a)
case("T.2d", lambda L, a: a.T, (S,), np.transpose)
case("T.3d", lambda L, a: a.T, (A(2, 3, 4),), np.transpose)
case("transpose.method", lambda L, a: a.transpose(0, 1), (S,), np.transpose)
case(
    "transpose.neg",
    lambda L, a: L.transpose(a, -1, -3),
    (A(2, 3, 4),),
    lambda a: np.swapaxes(a, 0, 2),
)
case("transpose.same", lambda L, a: a.transpose(1, 1), (S,), lambda a: a)
case("permute.args", lambda L, a: a.permute(2, 0, 1), (A(2, 3, 4),), lambda a: a.transpose(2, 0, 1))
case(
    "permute.func",
    lambda L, a: L.permute(a, (1, -1, 0)),
    (A(2, 3, 4),),
    lambda a: a.transpose(1, 2, 0),
)
case("unsqueeze.0", lambda L, a: a.unsqueeze(0), (S,), lambda a: a[None])
case("unsqueeze.neg", lambda L, a: L.unsqueeze(a, -1), (S,), lambda a: a[..., None])
case("unsqueeze.mid_t", lambda L, a: a.unsqueeze(1), (A(3, 4, layout="t"),), lambda a: a[:, None])
case("unsqueeze.0d", lambda L, a: a.unsqueeze(0), (A(),), lambda a: a[None])
case("squeeze.all", lambda L, a: a.squeeze(), (A(1, 3, 1, 2),), np.squeeze)
case("squeeze.dim", lambda L, a: a.squeeze(2), (A(1, 3, 1, 2),), lambda a: np.squeeze(a, 2))
case("squeeze.dim_noop", lambda L, a: L.squeeze(a, 1), (A(1, 3, 1, 2),), lambda a: a)
case(
    "squeeze.tuple",
    lambda L, a: a.squeeze((0, -2)),
    (A(1, 3, 1, 2),),
    lambda a: np.squeeze(a, (0, 2)),
)
case("squeeze.0d", lambda L, a: a.squeeze(), (A(),), lambda a: a)
case(
    "expand.sizes",
    lambda L, a: a.expand(2, 3, 4),
    (A(3, 1),),
    lambda a: np.broadcast_to(a, (2, 3, 4)),
)
case("expand.neg1", lambda L, a: a.expand(-1, 4), (A(3, 1),), lambda a: np.broadcast_to(a, (3, 4)))
case("expand.0d", lambda L, a: a.expand(3), (A(),), lambda a: np.broadcast_to(a, (3,)))
case(
    "expand_as",
    lambda L, a, b: a.expand_as(b),
    (A(4), A(3, 4, grad=False)),
    lambda a, b: np.broadcast_to(a, b.shape),
)
case("flatten.all", lambda L, a: a.flatten(), (A(2, 3, 4),), lambda a: a.reshape(-1))
case("flatten.start", lambda L, a: L.flatten(a, 1), (A(2, 3, 4),), lambda a: a.reshape(2, 12))
case("flatten.range", lambda L, a: a.flatten(0, 1), (A(2, 3, 4),), lambda a: a.reshape(6, 4))
case("flatten.t", lambda L, a: a.flatten(), (A(3, 4, layout="t"),), lambda a: a.reshape(-1))
case("flatten.0d", lambda L, a: a.flatten(), (A(),), lambda a: a.reshape(1))
case("flatten.1d", lambda L, a: a.flatten(), (A(4),), lambda a: a)
case("contiguous.t", lambda L, a: a.contiguous(), (A(3, 4, layout="t"),), lambda a: a)
case("contiguous.noop", lambda L, a: a.contiguous(), (S,), lambda a: a)
case("clone.method", lambda L, a: a.clone(), (A(3, 4, layout="step"),), lambda a: a)
case("clone.func", lambda L, a: L.clone(a), (S,), lambda a: a)
case("detach.method", lambda L, a: a.detach(), (S,), lambda a: a, fd=False)
case("detach.func", lambda L, a: L.detach(a * 2), (S,), lambda a: a * 2, fd=False)
case("float", lambda L, a: a.float(), (S,), lambda a: a.astype(np.float32), fd=False)
case(
    "double",
    lambda L, a: a.double(),
    (A(3, 4, dtype="float32"),),
    lambda a: a.astype(np.float64),
    fd=False,
)
case("double.then_mul", lambda L, a: a.double() * 2, (S,), lambda a: a.astype(np.float64) * 2)
case("to.float32", lambda L, a: a.to(L.float32), (S,), lambda a: a.astype(np.float32), fd=False)
case(
    "to.float64",
    lambda L, a: a.to(dtype=L.float64),
    (A(3, 4, dtype="float32"),),
    lambda a: a.astype(np.float64),
    fd=False,
)
case("to.same", lambda L, a: a.to(a.dtype), (S,), lambda a: a)
case(
    "to.int64", lambda L, a: (a * 3).to(L.int64), (S,), lambda a: (a * 3).astype(np.int64), fd=False
)
case(
    "long", lambda L, a: a.long(), (A(3, 4, kind="small"),), lambda a: a.astype(np.int64), fd=False
)
case(
    "int_to_float",
    lambda L, a: a.float(),
    (A(3, 4, dtype="int64"),),
    lambda a: a.astype(np.float32),
    fd=False,
)

# ---- basic indexing

IX = A(4, 5)
IX3 = A(3, 4, 5)
INDEX = {
    "int": (IX, lambda x: x[1]),
    "neg_int": (IX, lambda x: x[-1]),
    "int_int": (IX, lambda x: x[2, -3]),
    "slice": (IX, lambda x: x[1:3]),
    "slice_step": (IX, lambda x: x[::2]),
    "slice_start_step": (IX, lambda x: x[1::2]),
    "slice_neg": (IX, lambda x: x[-3:-1]),
    "slice_past_end": (IX, lambda x: x[2:100]),
    "slice_empty": (IX, lambda x: x[3:1]),
    "full_slice": (IX, lambda x: x[:]),
    "full_slices": (IX, lambda x: x[:, :]),
    "colon_int": (IX, lambda x: x[:, 1]),
    "colon_slice": (IX, lambda x: x[:, 1:4:2]),
    "ellipsis": (IX, lambda x: x[...]),
    "ellipsis_int": (IX3, lambda x: x[..., -1]),
    "int_ellipsis": (IX3, lambda x: x[1, ...]),
    "none": (IX, lambda x: x[None]),
    "colon_none": (IX, lambda x: x[:, None]),
    "ellipsis_none": (IX, lambda x: x[..., None]),
    "int_slice": (IX, lambda x: x[1, ::2]),
    "slice_ellipsis_none": (IX3, lambda x: x[-2:, ..., None]),
    "none_int_slice": (IX3, lambda x: x[None, 1, :, 1:3]),
    "int_none_step": (IX3, lambda x: x[0, None, ::3, -1]),
    "t_int": (A(4, 5, layout="t"), lambda x: x[1]),
    "step_slice": (A(3, 5, layout="step"), lambda x: x[1:, ::2]),
    "1d_int": (A(5), lambda x: x[3]),
    "1d_neg_step": (A(6), lambda x: x[-5::2]),
    "np_int": (IX, lambda x: x[np.int64(2)]),
}
case("index[0d_int_tensor]", lambda L, a: a[L.tensor(2)], (IX,), lambda a: a[2])
case("index[int_0d_int_tensor]", lambda L, a: a[1, L.tensor(-1)], (IX,), lambda a: a[1, -1])
for _k, (_a, _ix) in INDEX.items():
    case(f"index[{_k}]", lambda L, a, ix=_ix: ix(a), (_a,), _ix)

# ---- in-place ops on non-leaf tensors in a graph (clone() makes the non-leaf)


def _inplace(method, *extra, **kw):
    def fn(L, a, *others):
        y = a.clone()
        r = getattr(y, method)(*others, *extra, **kw)
        assert r is y, f"{method} must return self"
        return y

    return fn


def _iop(iop, *scalar):
    """`y op= b` (operator.iadd(y, b) is `y += b`) on a non-leaf copy of the first input."""

    def fn(L, a, *others):
        y = a.clone()
        r = iop(y, *others, *scalar)
        assert r is y, "augmented assignment keeps the object"
        return r

    return fn


case("add_.tensor", _inplace("add_"), (X, A(4)), np.add)
case("add_.alpha", _inplace("add_", alpha=2), (X, Y), lambda a, b: a + 2 * b)
case("add_.scalar", _inplace("add_", 2.5), (X,), lambda a: a + 2.5)
case("add_.other_only", _inplace("add_"), (A(3, 4, grad=False), A(4)), np.add)
case("sub_.tensor", _inplace("sub_"), (X, Y), np.subtract)
case("sub_.alpha", _inplace("sub_", alpha=0.5), (X, A(3, 1)), lambda a, b: a - 0.5 * b)
case("mul_.tensor", _inplace("mul_"), (X, A(4)), np.multiply)
case("mul_.scalar", _inplace("mul_", 3), (X,), lambda a: a * 3)
case("div_.tensor", _inplace("div_"), (X, YA), np_div)
case("div_.scalar", _inplace("div_", 4), (X,), lambda a: a / 4)
case("pow_.scalar", _inplace("pow_", 2), (X,), lambda a: a**2)
case("pow_.float", _inplace("pow_", 0.5), (XP,), np.sqrt)
case("clamp_.both", _inplace("clamp_", -0.3, 0.4), (CL,), lambda a: np.clip(a, -0.3, 0.4))
case("clamp_.min", _inplace("clamp_", min=-0.3), (CL,), lambda a: np.maximum(a, -0.3))
case("clamp_.max", _inplace("clamp_", max=0.4), (CL,), lambda a: np.minimum(a, 0.4))
case("zero_", _inplace("zero_"), (X,), np.zeros_like)
case("fill_.scalar", _inplace("fill_", 1.5), (X,), lambda a: np.full_like(a, 1.5))
case("fill_.tensor", _inplace("fill_"), (X, A()), lambda a, v: np.full_like(a, v))
case("fill_.tensor_nograd", _inplace("fill_"), (X, A(grad=False)), lambda a, v: np.full_like(a, v))
case(
    "fill_.tensor_only",
    _inplace("fill_"),
    (A(3, 4, grad=False), A()),
    lambda a, v: np.full_like(a, v),
)
case("copy_.tensor", _inplace("copy_"), (X, A(4)), lambda a, b: np.broadcast_to(b, a.shape))
case("copy_.dst_only", _inplace("copy_"), (X, A(3, 4, grad=False)), lambda a, b: b)
case("copy_.src_only", _inplace("copy_"), (A(3, 4, grad=False), Y), lambda a, b: b)
case("iadd", _iop(operator.iadd), (X, A(4)), np.add)
case("isub", _iop(operator.isub), (X, Y), np.subtract)
case("imul", _iop(operator.imul), (X, A(3, 1)), np.multiply)
case("idiv", _iop(operator.itruediv), (X, YA), np_div)
case("iadd.scalar", _iop(operator.iadd, 2), (X,), lambda a: a + 2)
case("imul.scalar", _iop(operator.imul, 0.5), (X,), lambda a: a * 0.5)
case("isub.scalar", _iop(operator.isub, 1.5), (X,), lambda a: a - 1.5)
case("idiv.scalar", _iop(operator.itruediv, 2), (X,), lambda a: a / 2)


def _on_result(op):
    """An in-place op on a fresh result that shares storage but is not a view (PyTorch's _unsafe_view)."""

    def fn(L, a, b):
        y = op(a, b)
        y.add_(1.0)
        y *= 2
        return y

    return fn


case(
    "inplace.on_matmul_3d_2d",
    _on_result(lambda a, b: a @ b),
    (A(2, 3, 4), A(4, 2)),
    lambda a, b: (a @ b + 1) * 2,
)
case(
    "inplace.on_matmul_1d_2d",
    _on_result(lambda a, b: a @ b),
    (A(4), A(4, 2)),
    lambda a, b: (a @ b + 1) * 2,
)
case(
    "inplace.on_matmul_3d_3d",
    _on_result(lambda a, b: a @ b),
    (A(2, 3, 4), A(2, 4, 2)),
    lambda a, b: (a @ b + 1) * 2,
)
case(
    "inplace.on_reshape_copy",
    _on_result(lambda a, b: a.t().reshape(-1) * b),
    (A(3, 4), A(12)),
    lambda a, b: (a.T.reshape(-1) * b + 1) * 2,
)


def _chain(L, a, b):
    y = a * 2
    y.add_(b).mul_(b)
    return y.exp()


case(
    "inplace.chain",
    _chain,
    (A(3, 4, kind="unit"), A(4, kind="unit")),
    lambda a, b: np.exp((2 * a + b) * b),
)


# ---------------------------------------------------------------- type promotion

PROMO_DTYPES = ["float32", "float64", "int64", "bool"]
PROMO_PY = {"int": 2, "float": 2.5, "bool": True}


def promo_operands():
    """(id, maker) where maker(L) builds the operand; tensors of dim 1 and 0, and Python numbers."""
    out = []
    for dt in PROMO_DTYPES:
        vals = {
            "float32": [1.5, -2.0, 3.0],
            "float64": [0.5, 2.0, -1.25],
            "int64": [3, -1, 2],
            "bool": [True, False, True],
        }[dt]
        out.append((f"{dt}[3]", lambda L, v=vals, d=dt: L.tensor(v, dtype=getattr(L, d))))
        out.append((f"{dt}[]", lambda L, v=vals, d=dt: L.tensor(v[0], dtype=getattr(L, d))))
    for k, v in PROMO_PY.items():
        out.append((f"py_{k}", lambda L, v=v: v))
    return out


PROMO_OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
}


# ---------------------------------------------------------------- running a case


def is_float_dtype(t) -> bool:
    return str(t.dtype).split(".")[-1] in ("float32", "float64")


def build(L, c: OpCase, arrays, requires_grad: bool):
    """Leaves from numpy arrays, then the views the op sees. Returns (leaves, inputs)."""
    leaves, inputs = [], []
    for arg, arr in zip(c.args, arrays):
        t = L.tensor(arr)
        if requires_grad and arg.grad and arr.dtype.kind == "f":
            t.requires_grad_(True)
        leaves.append(t)
        inputs.append(arg.view(t))
    return leaves, inputs


def outputs(r) -> list:
    return list(r) if isinstance(r, tuple) else [r]


def to_np(t) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def np_views(c: OpCase, arrays) -> list:
    return [arg.view(a) for arg, a in zip(c.args, arrays)]


def grad_output(r):
    """The output whose weighted sum is differentiated: the first floating one."""
    for o in outputs(r):
        if is_float_dtype(o):
            return o
    return None


def finite_difference(L, c: OpCase, arrays, w, eps=1e-6) -> list:
    """Central differences of sum(fn(inputs) * w) w.r.t. every element of every grad leaf."""

    def f(arrs):
        with L.no_grad():
            _, ins = build(L, c, arrs, requires_grad=False)
            return float(np.sum(to_np(grad_output(c.fn(L, *ins))) * w))

    result = []
    for k, (arg, arr) in enumerate(zip(c.args, arrays)):
        if not (arg.grad and arr.dtype.kind == "f"):
            result.append(None)
            continue
        num = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            num[idx] = (f(plus) - f(minus)) / (2 * eps)
        result.append(num)
    return result

"""Random tensor programs, written once as Python source and run on both ember and torch.

A *program* is a list of lines ``vN = <expr>``, each using the names of earlier lines and
``L`` (the library: ``ember`` or ``torch``) and ``np``. Data come from numpy expressions
seeded inside the source, so a program printed in a failure message is a complete
reproduction: paste it after ``import numpy as np; import ember as L`` (or torch).

`draw_program` builds one program with hypothesis's interactive ``data.draw``, running each
line on torch while it builds, so torch is the oracle for shapes, dtypes and views: the
generator never has to predict an op's output shape, and picks the next op's operands from
what torch actually produced. A line that torch rejects ends the program; the comparison then
checks that ember rejects it with the same exception type.

`run_program` executes the lines on one library and records, after each line, everything
observable (value, shape, dtype, requires_grad, is_leaf, grad_fn name), then calls
``backward`` on the last value that requires grad and records every leaf's ``.grad``.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import torch

FLOATS = ("float32", "float64")
SCALARS = ("2", "0.5", "-1", "3", "-0.25", "0", "1.5", "True")
POW_EXPONENTS = ("2", "3", "0.5", "-1", "0", "1.5", "-2", "1")


@dataclass
class Program:
    lines: list = field(default_factory=list)  # (name, source)
    leaves: list = field(default_factory=list)  # names of leaves created with requires_grad
    ns: dict = field(default_factory=dict)  # torch namespace while drawing
    dead: set = field(default_factory=set)  # names no longer to be used as operands
    failed: bool = False  # the last line raised on torch
    # Names whose strides are the same in both libraries. PyTorch's elementwise ops and clone()
    # keep a non-contiguous input's memory order; ember's write contiguous outputs. Values,
    # grads and node names agree either way, but view(), reshape() and contiguous() then
    # differ (error or copy, ViewBackward0 or UnsafeViewBackward0), so those are drawn only
    # on these names.
    exact: set = field(default_factory=set)
    layout: bool | None = None  # set by an op generator: the new line's exactness

    def source(self, lib: str = "torch") -> str:
        head = f"import numpy as np\nimport {lib} as L\n"
        body = "\n".join(src for _, src in self.lines)
        tail = ""
        if self.leaves:  # what run_program does after the lines
            names = ", ".join(n for n, _ in self.lines)
            tail = (
                f"\nout = [v for v in ({names},) if isinstance(v, L.Tensor) and v.requires_grad][-1]"
                "\nout.backward(L.tensor(np.random.default_rng(7).standard_normal(tuple(out.shape)), dtype=out.dtype))"
                f"\nprint({', '.join(n + '.grad' for n in self.leaves)})"
            )
        return head + body + tail

    # -- drawing

    def emit(self, name: str, src: str) -> bool:
        """Appends a line and runs it on torch; False (and the program ends) if torch raises."""
        self.lines.append((name, src))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(src, self.ns)
        except Exception:
            self.failed = True
            return False
        return True

    def new_name(self) -> str:
        return f"v{len(self.lines)}"

    def tensors(self):
        return [
            n
            for n, _ in self.lines
            if n not in self.dead and isinstance(self.ns.get(n), torch.Tensor)
        ]


def data_expr(shape, kind: str, seed: int) -> str:
    shape = tuple(shape)
    rng = f"np.random.default_rng({seed})"
    if kind == "grid":  # multiples of 1/4: sums and products are exact in any order
        return f"{rng}.integers(-8, 9, {shape}) / 4"
    if kind == "special":  # a few nan / inf / zeros among normal values
        return (
            f"np.where({rng}.random({shape}) < 0.2, "
            f"np.array([np.nan, np.inf, -np.inf, 0.0])[{rng}.integers(0, 4, {shape})], "
            f"{rng}.standard_normal({shape}))"
        )
    if kind == "pos":
        return f"{rng}.uniform(0.5, 2.0, {shape})"
    return f"{rng}.standard_normal({shape})"


@st.composite
def shapes(draw, max_dims=4):
    nd = draw(st.integers(0, max_dims))
    dims = draw(st.lists(st.sampled_from([1, 2, 3, 4, 0, 5]), min_size=nd, max_size=nd))
    return tuple(dims)


def broadcast_partner(draw, shape) -> tuple:
    """A shape that broadcasts with `shape` (rarely one that does not)."""
    how = draw(st.sampled_from(["same", "ones", "drop", "lead", "scalar", "bad"]))
    s = list(shape)
    if how == "ones" and s:
        mask = draw(st.lists(st.booleans(), min_size=len(s), max_size=len(s)))
        s = [1 if m else d for d, m in zip(s, mask)]
    elif how == "drop" and s:
        s = s[draw(st.integers(0, len(s))) :]
    elif how == "lead" and len(s) < 4:
        s = [draw(st.sampled_from([1, 2]))] + s
    elif how == "scalar":
        s = []
    elif how == "bad" and s and max(s) > 1:
        i = max(range(len(s)), key=lambda j: s[j])
        s[i] += 1
    return tuple(s)


def new_input(draw, p: Program, shape, dtype=None, grad=None, kind=None) -> str | None:
    """Emits a leaf (and a non-contiguous view of it) of `shape`; returns the name to use."""
    dtype = dtype or draw(st.sampled_from(FLOATS))
    grad = draw(st.booleans()) if grad is None else grad
    kind = kind or draw(st.sampled_from(["grid", "grid", "normal", "pos", "special"]))
    layout = draw(st.sampled_from(["contig", "contig", "t", "step", "expand", "permute"]))
    nd = len(shape)
    if layout == "t" and nd < 2 or layout == "step" and nd < 1 or layout == "permute" and nd < 3:
        layout = "contig"
    perm = None
    if layout == "t":
        base = shape[:-2] + (shape[-1], shape[-2])
    elif layout == "step":
        base = (2 * shape[0],) + tuple(shape[1:])
    elif layout == "expand":
        lead = draw(st.integers(0, nd))
        base = tuple(1 if (i < lead or draw(st.booleans())) else d for i, d in enumerate(shape))
        base = base[draw(st.integers(0, lead)) :] if lead else base
    elif layout == "permute":
        perm = tuple(draw(st.permutations(range(nd))))
        base = [0] * nd  # base.permute(perm).shape[i] == base[perm[i]] == shape[i]
        for i, q in enumerate(perm):
            base[q] = shape[i]
        base = tuple(base)
    else:
        base = tuple(shape)
    seed = len(p.lines)
    leaf = p.new_name()
    rg = ", requires_grad=True" if grad else ""
    ok = p.emit(leaf, f"{leaf} = L.tensor({data_expr(base, kind, seed)}, dtype=L.{dtype}{rg})")
    if not ok:
        return None
    p.exact.add(leaf)
    if grad:
        p.leaves.append(leaf)
    if layout == "contig":
        return leaf
    name = p.new_name()
    p.exact.add(name)
    view = {
        "t": f"{leaf}.transpose(-1, -2)",
        "step": f"{leaf}[::2]",
        "expand": f"{leaf}.expand({tuple(shape)})",
        "permute": f"{leaf}.permute{perm}",
    }[layout]
    return name if p.emit(name, f"{name} = {view}") else None


# ---------------------------------------------------------------- ops
# Each op generator takes (draw, p, a) with `a` the name of an existing tensor, and returns
# the expression for the new line, or None when it does not apply to `a`.


def shape_of(p, a):
    return tuple(p.ns[a].shape)


def is_float(p, a):
    return p.ns[a].dtype in (torch.float32, torch.float64)


UNARY = ["neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "sin", "cos", "sign", "reciprocal"]


def op_unary(draw, p, a):
    f = draw(st.sampled_from(UNARY))
    form = draw(st.sampled_from(["method", "function", "operator"]))
    if form == "operator" and f in ("neg", "abs"):
        return f"-{a}" if f == "neg" else f"abs({a})"
    return f"{a}.{f}()" if form == "method" else f"L.{f}({a})"


def partner(draw, p, a, shape=None) -> str | None:
    """A second operand: an existing tensor, a fresh input, or a Python scalar."""
    shape = shape_of(p, a) if shape is None else shape
    how = draw(st.sampled_from(["fresh", "fresh", "existing", "scalar"]))
    if how == "scalar":
        return draw(st.sampled_from(SCALARS))
    if how == "existing":
        names = [n for n in p.tensors() if n != a] or [a]
        return draw(st.sampled_from(names))
    dtype = draw(st.sampled_from(FLOATS + ("int64",))) if draw(st.integers(0, 9)) == 0 else None
    if dtype == "int64":
        seed = len(p.lines)
        name = p.new_name()
        ps = broadcast_partner(draw, shape)
        ok = p.emit(name, f"{name} = L.tensor({data_expr(ps, 'grid', seed)} * 4, dtype=L.int64)")
        return name if ok else None
    return new_input(draw, p, broadcast_partner(draw, shape), dtype=dtype)


BINARY = [
    "{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / {b}", "{b} + {a}", "{b} - {a}", "{b} * {a}", "{b} / {a}",
    "L.add({a}, {b})", "{a}.sub({b})", "L.mul({a}, {b})", "{a}.div({b})", "L.add({a}, {b}, alpha=2)",
    "L.maximum({a}, {b})", "{a}.minimum({b})", "L.true_divide({a}, {b})", "{a}.pow({b})",
]


def op_binary(draw, p, a):
    b = partner(draw, p, a)
    if b is None:
        return None
    tmpl = draw(st.sampled_from(BINARY))
    if not b.startswith("v") and tmpl.startswith(("L.maximum", "{a}.minimum", "{a}.pow")):
        tmpl = "{a} * {b}"  # these take tensors only
    if not b.startswith("v") and tmpl.startswith("{b}") and b == "True":
        b = "2"
    return tmpl.format(a=a, b=b)


def op_pow(draw, p, a):
    e = draw(st.sampled_from(POW_EXPONENTS))
    return draw(st.sampled_from([f"{a}.pow({e})", f"{a} ** {e}", f"L.pow({a}, {e})", f"2 ** {a}"]))


def op_clamp(draw, p, a):
    lo, hi = draw(st.sampled_from([(-0.5, 0.5), (0, None), (None, 0.25), (1, -1), (-1, 1)]))
    f = draw(st.sampled_from(["{a}.clamp", "L.clamp", "{a}.clip"]))
    args = (f"{a}, " if f.startswith("L") else "") + f"min={lo}, max={hi}"
    return f.format(a=a) + f"({args})"


def op_where(draw, p, a):
    b = partner(draw, p, a)
    if b is None:
        return None
    cond = draw(st.sampled_from([f"{a} > 0", f"{a} <= {b}", f"L.lt({a}, 0.5)"]))
    if not b.startswith("v"):
        return f"L.where({cond}, {a}, {b})"
    return draw(st.sampled_from([f"L.where({cond}, {a}, {b})", f"({cond}).where({b}, {a})"]))


def op_compare(draw, p, a):
    b = partner(draw, p, a)
    if b is None:
        return None
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    tail = draw(st.sampled_from(["", ".float()", ".double()", ".long()"]))
    return f"({a} {op} {b}){tail}"


def op_logical(draw, p, a):
    c = f"({a} > 0)"
    d = f"({a} < 0.5)"
    e = draw(
        st.sampled_from(
            [f"{c} & {d}", f"{c} | {d}", f"~{c}", f"L.logical_and({c}, {d})", f"{c}.logical_not()",
             f"L.logical_or({c}, {a})"]
        )
    )
    return f"({e}).float()" if draw(st.booleans()) else e


def dim_arg(draw, nd):
    """A dim in range (either sign), rarely one out of range."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from([nd, -nd - 1, 5]))
    d = draw(st.integers(0, max(nd - 1, 0)))
    return d - nd if (nd and draw(st.booleans())) else d


def op_reduce(draw, p, a):
    nd = len(shape_of(p, a))
    f = draw(st.sampled_from(["sum", "mean", "max", "min", "argmax", "argmin", "amaxdim"]))
    whole = draw(st.booleans())
    kd = draw(st.booleans())
    d = dim_arg(draw, nd)
    if f in ("sum", "mean"):
        if whole:
            return draw(st.sampled_from([f"{a}.{f}()", f"L.{f}({a})"]))
        if nd >= 2 and draw(st.booleans()):
            d2 = dim_arg(draw, nd)
            return f"{a}.{f}(({d}, {d2}), keepdim={kd})"
        dt = ", dtype=L.float64" if draw(st.integers(0, 4)) == 0 else ""
        return draw(st.sampled_from([f"{a}.{f}({d}, keepdim={kd}{dt})", f"L.{f}({a}, dim={d}{dt})"]))
    if f in ("max", "min"):
        if whole:
            return f"{a}.{f}()"
        which = draw(st.sampled_from(["[0]", ".values", ".indices", "[1]"]))
        return f"{a}.{f}({d}, keepdim={kd}){which}"
    if f == "amaxdim":
        return f"L.max({a}, dim={d}).values"
    if whole:
        return f"{a}.{f}()"
    return f"L.{f}({a}, dim={d}, keepdim={kd})"


def op_matmul(draw, p, a):
    if not is_float(p, a):
        return None  # bool/int64 products: test_bad_inputs (PyTorch skips the dtype check when empty)
    s = shape_of(p, a)
    nd = len(s)
    m = draw(st.sampled_from([0, 1, 2, 3]))
    if nd == 1:
        kind = draw(st.sampled_from(["dot", "vec", "mat", "batch"]))
        bs = {"dot": s, "vec": s, "mat": s + (m,), "batch": (2,) + s + (m,)}[kind]
    elif nd == 2:
        kind = draw(st.sampled_from(["mm", "mv", "matmul_vec", "matmul_batch", "bad"]))
        bs = {
            "mm": (s[1], m), "mv": (s[1],), "matmul_vec": (s[1],), "matmul_batch": (2, s[1], m),
            "bad": (s[1] + 1, m),
        }[kind]
    elif nd >= 3:
        kind = draw(st.sampled_from(["bmm", "matmul", "matmul_bcast"]))
        if kind == "bmm" and nd != 3:
            kind = "matmul"
        bs = s[:-2] + (s[-1], m) if kind != "matmul_bcast" else (1,) * (nd - 2) + (s[-1], m)
        bs = bs[draw(st.integers(0, max(len(bs) - 2, 0))) :] if kind == "matmul_bcast" else bs
    else:
        return None
    b = new_input(draw, p, bs, dtype=str(p.ns[a].dtype).split(".")[-1])  # mixed dtypes: test_errors
    if b is None:
        return None
    fn = {
        "dot": [f"{a}.dot({b})", f"L.dot({a}, {b})"],
        "mm": [f"{a}.mm({b})", f"L.mm({a}, {b})"],
        "mv": [f"{a}.mv({b})", f"L.mv({a}, {b})"],
        "bmm": [f"{a}.bmm({b})", f"L.bmm({a}, {b})"],
    }.get(kind, [f"{a} @ {b}", f"L.matmul({a}, {b})", f"{a}.matmul({b})"])
    return draw(st.sampled_from(fn))


def factor_shape(draw, n, s):
    if n == 0:
        return draw(st.sampled_from([(0,), (0, 2), (2, 0, 1), tuple(reversed(s)) or (0,)]))
    fs, k, q = [], 2, n
    while q > 1:
        while q % k == 0:
            fs.append(k)
            q //= k
        k += 1
    nd = draw(st.integers(1, 4))
    dims = [1] * nd
    for f in fs:
        dims[draw(st.integers(0, nd - 1))] *= f
    if draw(st.booleans()):
        dims[draw(st.integers(0, nd - 1))] = -1
    return tuple(dims)


def index_expr(draw, s):
    parts, used_ellipsis = [], False
    nd = len(s)
    i = 0
    for _ in range(draw(st.integers(1, max(nd, 1) + 1))):
        kind = draw(st.sampled_from(["int", "slice", "slice", "full", "none", "ellipsis"]))
        size = s[i] if i < nd else 0
        if kind == "int" and i < nd and size > 0:
            parts.append(str(draw(st.integers(-size, size - 1))))
            i += 1
        elif kind == "int" and draw(st.integers(0, 9)) == 0:
            parts.append(str(size + 1))  # out of range
            i += 1
        elif kind == "slice" and i < nd:
            lo = draw(st.sampled_from(["", "1", "-2", "0"]))
            hi = draw(st.sampled_from(["", "2", "-1", "10"]))
            st_ = draw(st.sampled_from(["", ":2", ":3", ":1"] + ([":-1"] if draw(st.integers(0, 19)) == 0 else [])))
            parts.append(f"{lo}:{hi}{st_}")
            i += 1
        elif kind == "full" and i < nd:
            parts.append(":")
            i += 1
        elif kind == "none":
            parts.append("None")
        elif kind == "ellipsis" and not used_ellipsis:
            parts.append("...")
            used_ellipsis = True
            i = nd
    return ", ".join(parts) if parts else "..."


def op_view(draw, p, a):
    s = shape_of(p, a)
    nd = len(s)
    n = math.prod(s)
    f = draw(
        st.sampled_from(
            ["reshape", "view", "t", "transpose", "permute", "unsqueeze", "squeeze", "squeeze_dim", "expand",
             "flatten", "index", "index", "contiguous", "clone", "detach", "swapaxes", "T"]
        )
    )
    if f in ("reshape", "view", "flatten", "contiguous") and a not in p.exact:
        return None
    # strided views and layout-decided copies keep exactness; clone() follows the general rule
    p.layout = None if f == "clone" else a in p.exact
    if f in ("reshape", "view"):
        ns = factor_shape(draw, n, s)
        return draw(st.sampled_from([f"{a}.{f}{ns}", f"{a}.{f}({ns})", f"L.reshape({a}, {ns})"]))
    if f == "t":
        return draw(st.sampled_from([f"{a}.t()", f"L.t({a})"]))
    if f == "T":
        return f"{a}.T" if nd == 2 else f"{a}.t()"
    if f in ("transpose", "swapaxes"):
        return f"{a}.{f}({dim_arg(draw, nd)}, {dim_arg(draw, nd)})"
    if f == "permute":
        perm = tuple(draw(st.permutations(range(nd))))
        return draw(st.sampled_from([f"{a}.permute{perm}", f"L.permute({a}, {perm})"]))
    if f == "unsqueeze":
        return f"{a}.unsqueeze({dim_arg(draw, nd + 1)})"
    if f == "squeeze":
        return draw(st.sampled_from([f"{a}.squeeze()", f"L.squeeze({a})"]))
    if f == "squeeze_dim":
        return f"{a}.squeeze({dim_arg(draw, nd)})"
    if f == "expand":
        es = tuple(draw(st.sampled_from([d, -1])) if d != 1 else draw(st.sampled_from([1, 3, 0])) for d in s)
        if nd < 4 and draw(st.booleans()):
            es = (2,) + es
        return draw(st.sampled_from([f"{a}.expand{es}", f"{a}.expand({es})"]))
    if f == "flatten":
        if nd >= 2 and draw(st.booleans()):
            return f"{a}.flatten({dim_arg(draw, nd)}, -1)"
        return draw(st.sampled_from([f"{a}.flatten()", f"L.flatten({a})"]))
    if f == "index":
        return f"{a}[{index_expr(draw, s)}]"
    if f == "detach":
        return f"{a}.detach()"
    return f"{a}.{f}()"


def op_convert(draw, p, a):
    t = p.ns[a]
    # float -> int64 of nan, inf or |x| >= 2**63 is undefined behaviour in C++ (x86 gives INT64_MIN)
    to_long = not t.is_floating_point() or bool((t.abs() < 2.0**62).all())
    return draw(st.sampled_from([f"{a}.double()", f"{a}.float()", f"{a}.to(L.float64)", f"{a}.bool()",
                                 f"{a}.to(L.float32)"] + ([f"{a}.long()"] if to_long else [])))


INPLACE = [
    "{a}.add_({b})", "{a}.sub_({b})", "{a}.mul_({b})", "{a}.div_({b})", "{a}.copy_({b})", "{a}.add_({b}, alpha=2)",
]


def op_inplace(draw, p, a):
    """An in-place op on a tensor that is not a view (ember raises NotImplementedError for an
    in-place op on a view of a graph tensor: PyTorch's CopySlices is not there yet). Every view
    of `a` is dropped afterwards: PyTorch regenerates their grad_fn, ember does not."""
    t = p.ns[a]
    if t._is_view() or t._base is not None:
        return None
    f = draw(st.sampled_from(["binary", "binary", "pow", "clamp", "zero", "fill", "iop"]))
    if f == "binary":
        b = partner(draw, p, a)
        if b is None:
            return None
        tmpl = draw(st.sampled_from(INPLACE))
        if tmpl.startswith("{a}.copy_") and not b.startswith("v"):
            b = f"L.tensor({b})"  # copy_ takes a tensor
        e = tmpl.format(a=a, b=b)
    elif f == "pow":
        e = f"{a}.pow_({draw(st.sampled_from(POW_EXPONENTS))})"
    elif f == "clamp":
        e = f"{a}.clamp_(min={draw(st.sampled_from(['-0.5', '0', 'None']))}, max=0.75)"
    elif f == "zero":
        e = f"{a}.zero_()"
    elif f == "fill":
        e = f"{a}.fill_({draw(st.sampled_from(SCALARS))})"
    else:
        b = partner(draw, p, a)
        if b is None:
            return None
        op = draw(st.sampled_from(["+=", "-=", "*=", "/="]))
        return ("iop", a, op, b)
    return ("inplace", a, e)


OPS = [
    (op_unary, 3), (op_binary, 4), (op_pow, 1), (op_clamp, 1), (op_where, 1), (op_compare, 1),
    (op_logical, 1), (op_reduce, 3), (op_matmul, 2), (op_view, 5), (op_convert, 1), (op_inplace, 2),
]
OP_CHOICES = [f for f, w in OPS for _ in range(w)]


# The sign of a zero out of a sum or a matrix product depends on the order of the additions
# (BLAS starts from the first product, ember from +0), and 1 / -0 is -inf: so no division, or
# power that may divide, by a tensor that holds a zero.
DIVISION = re.compile(r"/|reciprocal|div|pow|\*\*")


def shares_storage(p, a, names) -> bool:
    """An in-place op reading another view of its own memory: PyTorch raises ("unsupported
    operation: some elements of the input tensor and the written-to tensor refer to a single
    memory location"), ember computes it as if from a copy. Not drawn."""
    ptr = p.ns[a].untyped_storage().data_ptr()
    return any(
        n != a and isinstance(p.ns.get(n), torch.Tensor) and p.ns[n].untyped_storage().data_ptr() == ptr
        for n in names
    )


def has_zero(p, names) -> bool:
    ts = [p.ns[n] for n in names if isinstance(p.ns.get(n), torch.Tensor)]
    return any(t.numel() and bool((t == 0).any()) for t in ts)


def draw_program(data, max_ops: int = 8) -> Program:
    draw = data.draw
    p = Program(ns={"L": torch, "np": np})
    first = new_input(draw, p, draw(shapes()))
    if first is None:
        return p
    n_ops = draw(st.integers(1, max_ops), label="ops")
    last = first
    for _ in range(n_ops):
        names = p.tensors()
        # mostly continue the chain, sometimes branch from an earlier value
        a = last if (last in names and draw(st.integers(0, 3))) else draw(st.sampled_from(names))
        gen = draw(st.sampled_from(OP_CHOICES))
        e = gen(draw, p, a)
        if p.failed:
            return p
        if e is None:
            continue
        name = p.new_name()
        if isinstance(e, tuple) and e[0] == "iop":
            if DIVISION.search(e[2]) and has_zero(p, [e[1], e[3]]):
                continue
            _, a, op, b = e
            src = f"{name} = {a}; {name} {op} {b}"
        elif isinstance(e, tuple):
            _, a, expr = e
            src = f"{name} = {expr}"
        else:
            src = f"{name} = {e}"
        if isinstance(e, tuple) and shares_storage(p, a, re.findall(r"\bv\d+\b", src.split("=", 1)[1])):
            continue
        if DIVISION.search(src) and has_zero(p, re.findall(r"\bv\d+\b", src.split("=", 1)[1])):
            continue
        ok = p.emit(name, src)
        if not ok:
            return p
        operands = [n for n in re.findall(r"\bv\d+\b", src.split("=", 1)[1]) if n != name]
        if p.layout is None:  # a new tensor: PyTorch's is contiguous when its inputs are
            p.layout = all(n in p.exact and p.ns[n].is_contiguous() for n in operands)
        if isinstance(e, tuple):
            p.layout = a in p.exact  # in-place: self's layout
        if p.layout:
            p.exact.add(name)
        p.layout = None
        if isinstance(e, tuple):  # in-place: `a` and its views are superseded by `name`
            root = p.ns[a]
            for n in p.tensors():
                t = p.ns[n]
                if n != name and (t is root or t._base is root):
                    p.dead.add(n)
        last = name
    return p


# ---------------------------------------------------------------- running and comparing


def grad_fn_name(t):
    fn = t.grad_fn
    if fn is None:
        return None
    return fn.name().replace("torch::autograd::", "")


def snapshot(v):
    if isinstance(v, (int, float, bool)):
        return ("scalar", v)
    if not hasattr(v, "shape") or not hasattr(v, "grad_fn"):
        return ("other", type(v).__name__)
    arr = v.detach().numpy().copy()
    return ("tensor", tuple(v.shape), str(v.dtype).split(".")[-1], v.requires_grad, v.is_leaf, grad_fn_name(v), arr)


def exc_type(e: BaseException) -> str:
    for c in type(e).__mro__:
        if c.__module__ == "builtins":
            return c.__name__
    return type(e).__name__


def run_program(lib, lines, leaves):
    """Runs `lines` on `lib`; returns (records, error, grads). error: (line index, type, msg)."""
    ns = {"L": lib, "np": np}
    records, error, grads = [], None, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (name, src) in enumerate(lines):
            try:
                exec(src, ns)
            except Exception as e:  # noqa: BLE001  (compared with torch's)
                return records, (i, exc_type(e), str(e)), grads
            records.append(snapshot(ns[name]))
        outs = [n for n, _ in lines if isinstance(ns[n], lib.Tensor) and ns[n].requires_grad]
        if outs:
            out = ns[outs[-1]]
            g = np.random.default_rng(7).standard_normal(tuple(out.shape))
            try:
                out.backward(lib.tensor(g, dtype=out.dtype))
            except Exception as e:  # noqa: BLE001
                return records, (len(lines), exc_type(e), str(e)), grads
            for n in leaves:
                gr = ns[n].grad
                grads[n] = None if gr is None else gr.numpy().copy()
    return records, error, grads


def close(e: np.ndarray, t: np.ndarray, loose: bool) -> bool:
    if e.shape != t.shape or e.dtype != t.dtype:
        return False
    if e.dtype.kind not in "fc":
        return np.array_equal(e, t)
    if not np.array_equal(np.isnan(e), np.isnan(t)):
        return False
    fin = np.isfinite(t)
    if not np.array_equal(e[~fin & ~np.isnan(t)], t[~fin & ~np.isnan(t)]):
        return False
    if not np.array_equal(np.isfinite(e), fin):
        return False
    if not fin.any():
        return True
    rtol = 1e-4 if loose or e.dtype == np.float32 else 1e-9
    scale = max(1.0, float(np.abs(t[fin]).max()))
    return bool(np.all(np.abs(e[fin] - t[fin]) <= rtol * np.abs(t[fin]) + rtol * 0.1 * scale))


def compare(p: Program, ember) -> str | None:
    """None when ember and torch agree on `p`, else a description of the first difference."""
    tr, terr, tg = run_program(torch, p.lines, p.leaves)
    er, eerr, eg = run_program(ember, p.lines, p.leaves)
    # float32 rounding anywhere upstream (then .double()) needs float32's tolerance everywhere
    loose = any(r[0] == "tensor" and r[2] == "float32" for r in tr)
    for i, (a, b) in enumerate(zip(er, tr)):
        name, src = p.lines[i]
        meta_a = a[:-1] if a[0] == "tensor" else a
        meta_b = b[:-1] if b[0] == "tensor" else b
        if meta_a != meta_b:
            return f"line {i} `{src}`: ember {meta_a} vs torch {meta_b}"
        if a[0] == "tensor" and not close(a[-1], b[-1], loose):
            return f"line {i} `{src}`: values differ\nember {a[-1]!r}\ntorch {b[-1]!r}"
    if (terr is None) != (eerr is None) or (terr and (terr[0], terr[1]) != (eerr[0], eerr[1])):
        return f"errors differ: ember {eerr} vs torch {terr}"
    if terr is None:
        for n in p.leaves:
            a, b = eg.get(n), tg.get(n)
            if (a is None) != (b is None):
                return f"{n}.grad: ember {a!r} vs torch {b!r}"
            if a is not None and not close(a, b, loose):
                return f"{n}.grad differs\nember {a!r}\ntorch {b!r}"
    return None

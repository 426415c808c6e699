"""ember: tensors with reverse-mode automatic differentiation, PyTorch's autograd semantics,
and a C++ core.

The C++ extension ``ember._C`` does the work; this package re-exports it and adds the
conveniences that are easiest to write in Python: grad-mode context managers, argument
parsing for the factories, ``device`` handling, and printing.
"""

from __future__ import annotations

import builtins as _builtins
import os as _os
import numbers as _numbers

import numpy as _np

from . import _C

# Frames in this package are not the user's: creation sites skip them (python/src/site_bind.cpp).
_C._set_internal_prefix(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ""))
from ._C import (
    Tensor,
    backend_info,
    abs,
    add,
    addmm,
    argmax,
    argmin,
    bmm,
    bool,
    clamp,
    clip,
    clone,
    cos,
    detach,
    div,
    dot,
    dtype,
    eq,
    exp,
    flatten,
    float32,
    float64,
    from_numpy,
    get_num_threads,
    ge,
    gt,
    initial_seed,
    int64,
    is_grad_enabled,
    le,
    log,
    logical_and,
    logical_not,
    logical_or,
    lt,
    manual_seed,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    mv,
    ne,
    neg,
    negative,
    permute,
    pow,
    reciprocal,
    relu,
    reshape,
    set_num_threads,
    sigmoid,
    sign,
    sin,
    sqrt,
    squeeze,
    sub,
    sum,
    swapaxes,
    t,
    tanh,
    transpose,
    true_divide,
    unsqueeze,
    where,
)
from ._tensor_str import get_printoptions, printoptions, set_printoptions
from .grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from . import autograd  # noqa: E402
from ._C import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa: E402
from ._C import _set_anomaly_enabled as set_anomaly_enabled  # noqa: E402
from ._tensor import Size, device  # noqa: E402
from ._factories import (  # noqa: E402
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    scalar_tensor,
    tensor,
    zeros,
    zeros_like,
)

float = float32  # noqa: A001  (PyTorch's aliases)
double = float64
long = int64

__version__ = "0.1.0"


def is_tensor(obj) -> _builtins.bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    if not isinstance(input, Tensor):
        raise TypeError(f"numel(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.numel()


__all__ = [
    "Size", "Tensor", "abs", "add", "addmm", "arange", "backend_info", "get_num_threads", "set_num_threads", "argmax", "argmin", "autograd", "bmm", "bool", "clamp",
    "clip", "clone", "cos", "detach", "device", "div", "dot", "double", "dtype", "empty", "empty_like",
    "enable_grad", "eq", "exp", "eye", "flatten", "float", "float32", "float64", "from_numpy", "full",
    "full_like", "ge", "get_printoptions", "gt", "inference_mode", "initial_seed", "int64", "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled", "is_grad_enabled", "set_anomaly_enabled",
    "is_tensor", "le", "linspace", "log", "logical_and", "logical_not", "logical_or", "long", "lt",
    "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul", "mv", "ne", "neg",
    "negative", "no_grad", "numel", "ones", "ones_like", "permute", "pow", "printoptions", "rand",
    "rand_like", "randn", "randn_like", "reciprocal", "relu", "reshape", "scalar_tensor",
    "set_grad_enabled", "set_printoptions", "sigmoid", "sign", "sin", "sqrt", "squeeze", "sub", "sum",
    "swapaxes", "t", "tanh", "tensor", "transpose", "true_divide", "unsqueeze", "where", "zeros",
    "zeros_like",
]

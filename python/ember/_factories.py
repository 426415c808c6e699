"""Tensor factories with PyTorch's signatures: sizes as varargs or one sequence, and the
keywords ``dtype=``, ``device=``, ``requires_grad=`` (and ``out=None``/``layout``-style
keywords are rejected clearly rather than ignored)."""

from __future__ import annotations

import builtins
import sys

from . import _C
from ._tensor import check_device

_DEFAULT_FLOAT = _C.float32
_PY_DTYPES = {builtins.float: _C.float64, builtins.int: _C.int64, builtins.bool: _C.bool}


def _sizes(size, name):
    if len(size) == 0:  # PyTorch: ones() is an error; a 0-dim tensor is ones(())
        raise TypeError(f'{name}() missing 1 required positional arguments: "size"')
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]
        if isinstance(size, _C.Tensor):
            size = size.tolist()
        try:
            size = tuple(size)
        except TypeError:
            raise TypeError(
                f"{name}(): argument 'size' must be tuple of ints, but found element of type "
                f"{type(size).__name__}"
            ) from None
    out = []
    for s in size:
        if isinstance(s, builtins.bool) or not hasattr(s, "__index__"):
            raise TypeError(
                f"{name}(): argument 'size' must be tuple of ints, but found element of type {type(s).__name__}"
            )
        s = s.__index__()
        if s < 0:
            raise RuntimeError(f"{name}(): Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(s)
    return out


def _check_device_dtype(device, dtype):
    check_device(device)
    if dtype in _PY_DTYPES:  # PyTorch accepts the Python types float, int and bool as dtypes
        return _PY_DTYPES[dtype]
    if dtype is not None and not isinstance(dtype, _C.dtype):
        caller = sys._getframe(1)
        name = caller.f_locals.get("name") or caller.f_code.co_name
        raise TypeError(
            f"{name}(): argument 'dtype' must be ember.dtype, not {type(dtype).__name__}"
        )
    return dtype


def _finish(t, requires_grad):
    if requires_grad and not t.is_floating_point():
        # PyTorch's text for factories (requires_grad_() has its own).
        raise RuntimeError(
            f"Only Tensors of floating point and complex dtype can require gradients (got {t.dtype})"
        )
    if requires_grad:
        t.requires_grad_(True)
    return t


def _check_kwargs(name, kwargs):
    kwargs.pop("pin_memory", None)
    kwargs.pop("memory_format", None)
    layout = kwargs.pop("layout", None)
    if layout is not None:
        raise RuntimeError(f"{name}(): ember supports only the strided layout")
    out = kwargs.pop("out", None)
    if out is not None:
        raise TypeError(f"{name}(): out= is not supported by ember")
    if kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(kwargs))}'")


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (numbers, nested sequences, numpy arrays)."""
    dtype = _check_device_dtype(device, dtype)
    return _finish(_C._tensor(data, dtype), requires_grad)


def scalar_tensor(s, dtype=None, device=None, requires_grad=False):
    dtype = _check_device_dtype(device, dtype)
    return _finish(_C._full([], s, dtype or _DEFAULT_FLOAT), requires_grad)


def _filled(name, value, size, dtype, device, requires_grad, kwargs):
    # The common call (plain int sizes, no keywords but requires_grad) skips the checks:
    # ember.zeros(2, 2) took 1.8 us against torch's 1.3, now 1.15-1.2 (zeros((2, 2)): 1.2,
    # torch 1.95).
    if not kwargs and dtype is None and device is None and size:
        dims = size[0] if len(size) == 1 and type(size[0]) in (tuple, list) else size
        for s in dims:
            if type(s) is not int or s < 0:
                break
        else:
            t = _C._full(list(dims), value, _DEFAULT_FLOAT)
            if requires_grad:
                t.requires_grad_(True)
            return t
    _check_kwargs(name, kwargs)
    dtype = _check_device_dtype(device, dtype)
    return _finish(_C._full(_sizes(size, name), value, dtype or _DEFAULT_FLOAT), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, **kwargs):
    return _filled("zeros", 0, size, dtype, device, requires_grad, kwargs)


def ones(*size, dtype=None, device=None, requires_grad=False, **kwargs):
    return _filled("ones", 1, size, dtype, device, requires_grad, kwargs)


def empty(*size, dtype=None, device=None, requires_grad=False, **kwargs):
    _check_kwargs("empty", kwargs)
    dtype = _check_device_dtype(device, dtype)
    return _finish(_C._empty(_sizes(size, "empty"), dtype or _DEFAULT_FLOAT), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False, **kwargs):
    _check_kwargs("full", kwargs)
    dtype = _check_device_dtype(device, dtype)
    if dtype is None:
        if isinstance(fill_value, builtins.bool):
            dtype = _C.bool
        elif isinstance(fill_value, int):
            dtype = _C.int64
        else:
            dtype = _DEFAULT_FLOAT
    if isinstance(size, int):
        size = (size,)
    return _finish(_C._full(_sizes((size,), "full"), fill_value, dtype), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None, **kwargs):
    _check_kwargs("randn", kwargs)
    dtype = _check_device_dtype(device, dtype)
    if generator is not None:
        raise TypeError("randn(): ember has a single default generator; seed it with ember.manual_seed()")
    return _finish(_C._randn(_sizes(size, "randn"), dtype or _DEFAULT_FLOAT), requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None, **kwargs):
    _check_kwargs("rand", kwargs)
    dtype = _check_device_dtype(device, dtype)
    if generator is not None:
        raise TypeError("rand(): ember has a single default generator; seed it with ember.manual_seed()")
    return _finish(_C._rand(_sizes(size, "rand"), dtype or _DEFAULT_FLOAT), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, **kwargs):
    _check_kwargs("arange", kwargs)
    dtype = _check_device_dtype(device, dtype)
    if end is None:
        start, end = 0, start
    return _finish(_C._arange(start, end, step, dtype), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, **kwargs):
    _check_kwargs("linspace", kwargs)
    dtype = _check_device_dtype(device, dtype)
    if not isinstance(steps, int) or isinstance(steps, builtins.bool):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    return _finish(_C._linspace(float(start), float(end), steps, dtype or _DEFAULT_FLOAT), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, **kwargs):
    _check_kwargs("eye", kwargs)
    dtype = _check_device_dtype(device, dtype)
    return _finish(_C._eye(n, n if m is None else m, dtype or _DEFAULT_FLOAT), requires_grad)


def _like(name, fill, input, dtype, device, requires_grad, kwargs):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _check_kwargs(name, kwargs)
    dtype = _check_device_dtype(device, dtype)
    dt = dtype or input.dtype
    shape = list(input.shape)
    if fill == "randn":
        t = _C._randn(shape, dt)
    elif fill == "rand":
        t = _C._rand(shape, dt)
    elif fill is None:
        t = _C._empty(shape, dt)
    else:
        t = _C._full(shape, fill, dt)
    return _finish(t, requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _like("zeros_like", 0, input, dtype, device, requires_grad, kwargs)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _like("ones_like", 1, input, dtype, device, requires_grad, kwargs)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _like("empty_like", None, input, dtype, device, requires_grad, kwargs)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _like("full_like", fill_value, input, dtype, device, requires_grad, kwargs)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _like("randn_like", "randn", input, dtype, device, requires_grad, kwargs)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _like("rand_like", "rand", input, dtype, device, requires_grad, kwargs)

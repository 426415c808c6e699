"""Python-side pieces of Tensor: printing, numpy conversion, devices and ``.to``.

These are attached to the C++ class ``ember._C.Tensor`` at import time; everything on
the hot path (ops, indexing, autograd) is bound in C++."""

from __future__ import annotations

import builtins

import numpy as np

from . import _C
from ._tensor_str import format_tensor

Tensor = _C.Tensor


class Size(tuple):
    """A tensor's shape: a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self):
        return f"ember.Size([{', '.join(str(int(s)) for s in self)}])"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = super().__getitem__(item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))


_C._set_size_class(Size)


class device:
    """A device. ember computes on the CPU only: ``ember.device("cpu")``."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device(): argument 'type' must be str, not {builtins.type(type).__name__}")
        name = type
        if ":" in name:
            name, _, idx = name.partition(":")
            index = int(idx)
        if name != "cpu":
            raise RuntimeError(
                f"ember supports only the CPU device, got device '{type}'. "
                "Remove the device argument or use device='cpu'."
            )
        if index not in (None, 0, -1):
            raise RuntimeError(f"ember has a single CPU device; got device index {index}")
        object.__setattr__(self, "type", "cpu")
        object.__setattr__(self, "index", None)

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and other.type == self.type

    def __hash__(self):
        return hash(("device", self.type))


CPU = device("cpu")


def check_device(dev) -> None:
    """Accepts None, "cpu", device("cpu"); raises for anything else."""
    if dev is None or isinstance(dev, device):
        return
    device(dev)


# ---------------------------------------------------------------- printing

_DEFAULT_DTYPES = ("float32", "int64", "bool")


def _repr(self: Tensor) -> str:
    name = repr(self.dtype).split(".", 1)[1]
    values = np.array(_C.detach(self), copy=True)
    suffixes = []
    fn = self.grad_fn
    if fn is not None:
        suffixes.append(("grad_fn", f"<{fn.name()}>"))
    elif self.requires_grad:
        suffixes.append(("requires_grad", "True"))
    return format_tensor(values, dtype_name=name, default_dtype=name in _DEFAULT_DTYPES, suffixes=suffixes)


def _numpy(self: Tensor, *, force: bool = False) -> np.ndarray:
    if self.requires_grad and not force:
        raise RuntimeError(
            "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
        )
    return np.asarray(memoryview(_C.detach(self) if force else self))


def _array(self: Tensor, dtype=None, copy=None) -> np.ndarray:
    arr = _numpy(self)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if copy:
        arr = arr.copy()
    return arr


def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _C.dtype) or a in (builtins.float, builtins.int, builtins.bool):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device)):
            dev = a
        elif isinstance(a, builtins.bool):
            pass
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    check_device(dev)
    return dtype, copy


def _to(self: Tensor, *args, **kwargs) -> Tensor:
    dtype, copy = _parse_to(args, dict(kwargs))
    if dtype is None:
        return self.clone() if copy else self
    return self._to_dtype(dtype, copy)


def _iter(self: Tensor):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.shape[0]))


def _type(self: Tensor, dtype=None):
    names = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor", "bool": "BoolTensor"}
    if dtype is None:
        return "ember." + names[repr(self.dtype).split(".", 1)[1]]
    return self.to(dtype)


def _format(self: Tensor, spec: str) -> str:
    if self.dim() == 0:
        return self.item().__format__(spec)
    return object.__format__(self, spec)


def _deepcopy(self: Tensor, memo):
    with _C_no_grad():
        out = self.clone()
    if self.is_leaf and self.requires_grad:
        out.requires_grad_(True)
    return out


class _C_no_grad:
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


def _max(self, dim=None, keepdim=False):
    return _C.max(self, dim, keepdim)


def _cpu(self):
    return self


Tensor.__repr__ = _repr
Tensor.__str__ = _repr
Tensor.__format__ = _format
Tensor.__iter__ = _iter
Tensor.__array__ = _array
Tensor.__deepcopy__ = _deepcopy
Tensor.__array_priority__ = 1000  # numpy defers to Tensor's reflected operators
Tensor.numpy = lambda self, force=False: _numpy(self, force=force)
Tensor.to = _to
Tensor.cpu = _cpu
Tensor.type = _type
Tensor.device = property(lambda self: CPU)
Tensor.is_cuda = property(lambda self: False)
Tensor.is_cpu = property(lambda self: True)
Tensor.new_tensor = lambda self, data, dtype=None, requires_grad=False: __import__("ember").tensor(
    data, dtype=dtype or self.dtype, requires_grad=requires_grad
)
Tensor.new_zeros = lambda self, *size, dtype=None, requires_grad=False: __import__("ember").zeros(
    *size, dtype=dtype or self.dtype, requires_grad=requires_grad
)
Tensor.new_ones = lambda self, *size, dtype=None, requires_grad=False: __import__("ember").ones(
    *size, dtype=dtype or self.dtype, requires_grad=requires_grad
)

"""Custom differentiable operations in Python: ``ember.autograd.Function``.

As in PyTorch::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)          # y.grad_fn is an ExpBackward

``forward`` runs under ``no_grad``; ``apply`` then records one node (C++, see
python/src/function_bind.cpp) with an edge per tensor argument. The ctx object passed to
``forward`` and ``backward`` *is* the node as Python sees it: ``y.grad_fn`` returns it,
and it has ``name()``, ``next_functions``, ``register_hook`` and ``register_prehook``.
"""

from __future__ import annotations

from .. import _C
from ..grad_mode import no_grad

__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """What ``forward`` may tell ``backward`` through ``ctx``."""

    def save_for_backward(self, *tensors):
        """Saves tensors (or None) for backward; read them back with ``ctx.saved_tensors``,
        which checks that none was modified in place in between."""
        self.to_save = tensors

    def mark_non_differentiable(self, *args):
        """Marks outputs that get no gradient (``requires_grad=False``); backward still
        receives a (zero) gradient for them."""
        self.non_differentiable = args

    def set_materialize_grads(self, value: bool):
        """With False, backward receives None (not zeros) for outputs without a gradient."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *args):
        """Marks inputs that ``forward`` modified in place; each must also be returned. The
        returned tensor is the input itself, with this node as its new ``grad_fn``."""
        self.dirty_tensors = args


class BackwardCFunction(FunctionCtx):
    """Base of every ``<ClassName>Backward`` class: the node of one ``apply`` call."""

    _forward_cls: type

    def name(self) -> str:
        return type(self).__name__

    def _node(self):
        cdata = self.__dict__.get("_cdata")
        if cdata is None:
            raise RuntimeError(f"{self.name()} is not part of a graph (no input required grad)")
        return cdata.node()

    @property
    def next_functions(self):
        return self._node().next_functions

    @property
    def saved_tensors(self):
        cdata = self.__dict__.get("_cdata")
        if cdata is None:  # not recorded (grad disabled / no input requires grad)
            return tuple(getattr(self, "to_save", None) or ())
        return cdata.saved_tensors()

    @property
    def _sequence_nr(self):
        return self._node()._sequence_nr

    @property
    def creation_site(self):
        """``"file.py:line"`` of the ``apply`` call that made this node, or None."""
        return self._node().creation_site

    def register_hook(self, fn):
        return self._node().register_hook(fn)

    def register_prehook(self, fn):
        return self._node().register_prehook(fn)


class FunctionMeta(type):
    """Gives each Function subclass its ``<ClassName>Backward`` node class."""

    def __init__(cls, name, bases, attrs):
        backward_cls = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        backward_cls.__module__ = __name__
        backward_cls.__qualname__ = name + "Backward"
        cls._backward_cls = backward_cls
        super().__init__(name, bases, attrs)


class Function(metaclass=FunctionMeta):
    """Base class for custom autograd operations; see the module docstring."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "ember.autograd.Function subclasses are used through their static methods: "
            "call MyFunction.apply(...) instead of instantiating MyFunction"
        )

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to use it "
            "with backward mode AD."
        )

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply() takes positional arguments only")
        ctx = cls._backward_cls()
        ctx.needs_input_grad = tuple(isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        ctx.materialize_grads = True
        separate = cls.setup_context is not Function.setup_context
        with no_grad():
            if separate:
                output = cls.forward(*args)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args)
        return _C._function_record(ctx, args, output)


def once_differentiable(fn):
    """Marks a backward as not differentiable itself: it runs under no_grad."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper

"""Grad-mode switches with PyTorch's names: each works as a context manager and as a
decorator, and the state is per thread (it lives in the C++ core)."""

from __future__ import annotations

import functools

from . import _C


class _GradModeContext:
    """Base: subclasses set ``_enabled`` for the duration of a ``with`` block or call."""

    _enabled: bool

    def __enter__(self):
        self._prev = _C._swap_grad_enabled(self._enabled)  # one call: the update loop's hot path
        return None

    def __exit__(self, exc_type, exc, tb):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradModeContext):
    """Disables gradient recording: ops run without building the graph.

    The chapter's SGD update runs under it, so that ``w.sub_(lr * w.grad)`` is not
    recorded and is allowed on a leaf that requires grad."""

    _enabled = False

    def __init__(self, orig_func=None):
        # Allows both ``@no_grad`` and ``@no_grad()``.
        self._orig = orig_func

    def __new__(cls, orig_func=None):
        if orig_func is not None and callable(orig_func):
            return cls()(orig_func)
        return super().__new__(cls)


class enable_grad(_GradModeContext):
    """Enables gradient recording inside a ``no_grad`` block."""

    _enabled = True

    def __new__(cls, orig_func=None):
        if orig_func is not None and callable(orig_func):
            return cls()(orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func=None):
        pass


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (ember does not yet distinguish inference tensors)."""

    def __init__(self, mode: bool = True):
        self._enabled = not mode

    def __call__(self, fn):
        mode = not self._enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` switches grad mode off at once (as a call) and restores
    the previous mode when used as a context manager that exits."""

    def __init__(self, mode: bool):
        self._prev = _C.is_grad_enabled()
        self._enabled = bool(mode)
        _C._set_grad_enabled(self._enabled)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        mode = self._enabled
        _C._set_grad_enabled(self._prev)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return set_grad_enabled(self._enabled)

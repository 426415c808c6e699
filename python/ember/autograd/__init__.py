"""ember.autograd: the functional entry points to the engine, with PyTorch's names."""

from __future__ import annotations

from .. import _C
from ..grad_mode import enable_grad, no_grad, set_grad_enabled

Node = _C.Node


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates the gradients of ``tensors`` into the ``.grad`` of the leaves."""
    if inputs is not None:
        raise NotImplementedError("ember.autograd.backward(inputs=...) is not supported yet")
    if retain_graph is None:
        retain_graph = create_graph
    _C._run_backward(tensors, grad_tensors, bool(retain_graph), bool(create_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Returns the gradients of ``outputs`` with respect to ``inputs`` (a tuple), without
    touching any ``.grad``."""
    if retain_graph is None:
        retain_graph = create_graph
    return _C._run_grad(outputs, inputs, grad_outputs, bool(retain_graph), bool(create_graph), bool(allow_unused))


from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
from .function import Function, FunctionCtx, once_differentiable  # noqa: E402
from .anomaly_mode import (  # noqa: E402
    detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly,
)

__all__ = [
    "Function", "FunctionCtx", "GradcheckError", "Node", "backward", "detect_anomaly", "enable_grad", "grad",
    "gradcheck", "gradgradcheck", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "no_grad",
    "once_differentiable", "set_detect_anomaly", "set_grad_enabled",
]

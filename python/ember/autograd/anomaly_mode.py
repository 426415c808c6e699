"""Anomaly detection: ``detect_anomaly()`` / ``set_detect_anomaly(mode)``, as in PyTorch.

While it is on, the engine checks every gradient a backward node returns; the first NaN
raises ``RuntimeError: Function 'XBackward0' returned nan values in its 0th output.``
naming the node. ember also raises on an infinity ("returned inf values"), which PyTorch
lets through. The switch is process-wide, as in PyTorch.
"""

from __future__ import annotations

import functools
import warnings

from .. import _C

__all__ = ["detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_detect_anomaly"]

is_anomaly_enabled = _C.is_anomaly_enabled
is_anomaly_check_nan_enabled = _C.is_anomaly_check_nan_enabled


class detect_anomaly:
    """Context manager (or decorator) that turns anomaly detection on for its scope."""

    def __init__(self, check_nan: bool = True):
        self.prev = _C.is_anomaly_enabled()
        self.check_nan = check_nan
        self.prev_check_nan = _C.is_anomaly_check_nan_enabled()
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should only be enabled "
            "for debugging.",
            stacklevel=2,
        )

    def __enter__(self):
        _C._set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc):
        _C._set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Sets anomaly detection on or off at once; as a context manager it restores the
    previous setting on exit."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = _C.is_anomaly_enabled()
        self.prev_check_nan = _C.is_anomaly_check_nan_enabled()
        _C._set_anomaly_enabled(bool(mode), bool(check_nan))

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _C._set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False

"""Text rendering of tensors (``repr``/``str``), matching PyTorch's output.

This module is pure Python + numpy and does not depend on the rest of ember, so
it can be imported (and tested) on its own.  The tensor class hands its data to
:func:`format_tensor` as a numpy array; everything else (which values are
shown, column widths, fixed/scientific notation, line wrapping, summarisation
with ``...`` and the trailing ``key=value`` suffixes) is decided here.

The rules reproduced here (observed from PyTorch 2.x):

* Options: ``precision`` (4), ``threshold`` (1000), ``edgeitems`` (3),
  ``linewidth`` (80) and ``sci_mode`` (None = automatic).  Every call of
  :func:`set_printoptions` assigns ``sci_mode`` (to None when not given).
* A tensor with more than ``threshold`` elements is summarised: along every
  dimension longer than ``2 * edgeitems`` only the first and last
  ``edgeitems`` entries are shown, with ``...`` in between.
* One common format is chosen for all elements that are shown:

  - bool / integer tensors: ``str`` of each value, right-aligned to the
    widest one;
  - floating tensors look only at the finite non-zero values.  If they are
    all whole numbers, they are printed as ``1.`` (no digits after the
    point), unless max/min > 1000 or max > 1e8, which selects scientific
    notation.  Otherwise ``precision`` fixed digits are used, unless
    max/min > 1000, max > 1e8 or min < 1e-4, which selects scientific
    notation.  An explicit ``sci_mode`` option overrides the choice of
    notation when there is at least one finite non-zero value (an all
    zero/nan/inf tensor is always printed as whole numbers).  The column
    width is the longest finite non-zero value in the chosen notation; zeros,
    nan and inf do not take part in it.
* A row of numbers is wrapped so that
  ``floor((linewidth - indent) / (width + 2))`` elements fit on a line.
"""

import contextlib
import math

import numpy as np

__all__ = ["format_tensor", "get_printoptions", "printoptions", "set_printoptions"]

_DEFAULT_OPTIONS = {
    "precision": 4,
    "threshold": 1000,
    "edgeitems": 3,
    "linewidth": 80,
    "sci_mode": None,
}

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}

_options = dict(_DEFAULT_OPTIONS)

_FLOAT_DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64", "half", "float", "double")


def set_printoptions(
    precision=None,
    threshold=None,
    edgeitems=None,
    linewidth=None,
    profile=None,
    sci_mode=None,
):
    """Set options for printing tensors (same semantics as ``torch.set_printoptions``).

    Args:
        precision: digits after the decimal point for floating point output (default 4).
        threshold: number of elements above which the output is summarised (default 1000).
        edgeitems: items shown at the start and end of each summarised dimension (default 3).
        linewidth: characters per line used for wrapping (default 80).
        profile: ``"default"``, ``"short"`` or ``"full"``; applied first, then the
            explicit options above override it.  Unknown names are ignored.
        sci_mode: True/False forces/forbids scientific notation; None (the default,
            and what every call without it resets to) chooses automatically.
    """
    if profile is not None and profile in _PROFILES:
        _options.update(_PROFILES[profile])
    if precision is not None:
        _options["precision"] = precision
    if threshold is not None:
        _options["threshold"] = threshold
    if edgeitems is not None:
        _options["edgeitems"] = edgeitems
    if linewidth is not None:
        _options["linewidth"] = linewidth
    # Like PyTorch, sci_mode is always assigned: omitting it resets it to automatic.
    _options["sci_mode"] = sci_mode


def get_printoptions():
    """Return the current print options as a new dict."""
    return dict(_options)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager that temporarily applies :func:`set_printoptions`."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        _options.clear()
        _options.update(saved)


# ---------------------------------------------------------------------------
# element formatting
# ---------------------------------------------------------------------------


class _ElementFormat:
    """The single format shared by every element of one printed tensor."""

    def __init__(self, shown, is_float, opts):
        self.is_float = is_float
        self.precision = opts["precision"]
        self.whole = True  # floats: all shown finite non-zero values are integers
        self.scientific = False
        self.width = 1
        if not is_float:
            for v in _unique_python_values(shown):
                self.width = max(self.width, len(str(v)))
            return
        flat = shown.reshape(-1)
        candidates = flat[np.isfinite(flat) & (flat != 0)]
        if candidates.size:
            magnitudes = np.abs(candidates).astype(np.float64)
            lo = float(magnitudes.min())
            hi = float(magnitudes.max())
            self.whole = bool(np.all(np.ceil(candidates) == candidates))
            with np.errstate(over="ignore"):
                ratio_big = bool(np.float64(hi) / np.float64(lo) > 1000.0)
            if opts["sci_mode"] is not None:
                self.scientific = bool(opts["sci_mode"])
            elif self.whole:
                self.scientific = bool(ratio_big or hi > 1.0e8)
            else:
                self.scientific = bool(ratio_big or hi > 1.0e8 or lo < 1.0e-4)
            values = _unique_python_values(candidates)
            p = self.precision
            if self.scientific:
                lengths = (len(f"{v:.{p}e}") for v in values)
            elif self.whole:
                lengths = (len(f"{v:.0f}") + 1 for v in values)
            else:
                lengths = (len(f"{v:.{p}f}") for v in values)
            self.width = max(self.width, max(lengths))
        # With no finite non-zero value there is nothing to measure: such tensors
        # print as whole numbers ("0.", "nan", "-inf") whatever sci_mode says.

    def __call__(self, v):
        if not self.is_float:
            text = str(v)
        elif self.scientific:
            text = f"{v:{self.width}.{self.precision}e}"
        elif self.whole:
            text = f"{v:.0f}"
            if math.isfinite(v):
                text += "."
        else:
            text = f"{v:.{self.precision}f}"
        return text.rjust(self.width)


def _unique_python_values(arr):
    flat = np.asarray(arr).reshape(-1)
    if flat.size == 0:
        return []
    return np.unique(flat).tolist()


def _shown_part(arr, edgeitems):
    """The elements that a summarised print displays (used to pick the format)."""
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        if arr.shape[0] > 2 * edgeitems:
            # NB: with edgeitems == 0 this is the whole vector (a[-0:] == a[0:]).
            return np.concatenate((arr[:edgeitems], arr[-edgeitems:]))
        return arr
    if not edgeitems:
        return arr[(slice(0, 0),) * arr.ndim]
    index = []
    for n in arr.shape:
        if n > 2 * edgeitems:
            index.append(np.r_[0:edgeitems, n - edgeitems : n])
        else:
            index.append(np.arange(n))
    return arr[np.ix_(*index)]


# ---------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------


def _layout_vector(vec, indent, summarize, fmt, opts):
    edge = opts["edgeitems"]
    per_line = max(1, math.floor((opts["linewidth"] - indent) / (fmt.width + 2)))
    if summarize and not edge:
        items = ["..."]
    elif summarize and vec.shape[0] > 2 * edge:
        items = [fmt(v) for v in vec[:edge].tolist()]
        items.append(" ...")
        items.extend(fmt(v) for v in vec[-edge:].tolist())
    else:
        items = [fmt(v) for v in vec.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _layout(arr, indent, summarize, fmt, opts):
    if arr.ndim == 0:
        return fmt(arr.item())
    if arr.ndim == 1:
        return _layout_vector(arr, indent, summarize, fmt, opts)
    edge = opts["edgeitems"]
    n = arr.shape[0]
    if summarize and n > 2 * edge:
        parts = [_layout(arr[i], indent + 1, summarize, fmt, opts) for i in range(edge)]
        parts.append("...")
        parts.extend(_layout(arr[i], indent + 1, summarize, fmt, opts) for i in range(n - edge, n))
    else:
        parts = [_layout(arr[i], indent + 1, summarize, fmt, opts) for i in range(n)]
    separator = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _body(arr, indent, is_float, opts):
    summarize = arr.size > opts["threshold"]
    if summarize and not opts["edgeitems"]:
        fmt = _ElementFormat(arr[(slice(0, 0),) * arr.ndim], is_float, opts)
    else:
        fmt = _ElementFormat(
            _shown_part(arr, opts["edgeitems"]) if summarize else arr, is_float, opts
        )
    return _layout(arr, indent, summarize, fmt, opts)


def _join_suffixes(text, suffixes, indent, linewidth):
    # The running "line length" deliberately reproduces PyTorch's arithmetic,
    # which counts two characters more than the real length of the last line.
    out = [text]
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > linewidth:
            out.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            out.append(", " + suffix)
            line_len += len(suffix) + 2
    out.append(")")
    return "".join(out)


def format_tensor(values, *, dtype_name, default_dtype, suffixes=()):
    """Render a tensor exactly as ``repr(torch_tensor)`` would (with ``ember.`` names).

    Args:
        values: the tensor's data as a numpy array of any shape (0-d included).
        dtype_name: the ember dtype name, e.g. ``"float32"`` or ``"int64"``.
        default_dtype: True when the dtype would be inferred without being named
            (the current default floating dtype, int64 or bool).  A non-empty tensor
            shows ``dtype=`` exactly when this is False; an empty tensor shows it
            unless it is of the default *floating* dtype (int64/bool included).
        suffixes: extra ``(key, value)`` pairs appended after size/dtype, in order,
            e.g. ``[("grad_fn", "<MulBackward0>")]`` or ``[("requires_grad", "True")]``.
    """
    opts = _options
    arr = np.asarray(values)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    is_float = arr.dtype.kind == "f"
    prefix = "tensor("
    indent = len(prefix)
    tail = []
    if arr.size == 0:
        if arr.ndim != 1:
            tail.append("size=" + str(tuple(int(n) for n in arr.shape)))
        if not (default_dtype and dtype_name in _FLOAT_DTYPE_NAMES):
            tail.append("dtype=ember." + dtype_name)
        body = "[]"
    else:
        if not opts["edgeitems"]:
            tail.append("size=" + str(tuple(int(n) for n in arr.shape)))
        if not default_dtype:
            tail.append("dtype=ember." + dtype_name)
        body = _body(arr, indent, is_float, opts)
    tail.extend(f"{key}={value}" for key, value in suffixes)
    return _join_suffixes(prefix + body, tail, indent, opts["linewidth"])

"""ember's tensor printing compared character for character with PyTorch.

PyTorch is the oracle here and a required test dependency: its import is not
guarded on purpose.  The module under test is loaded straight from its file so
that this test does not depend on the rest of the ember package being built.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

_MODULE_PATH = Path(__file__).resolve().parents[2] / "python" / "ember" / "_tensor_str.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("_ember_tensor_str_under_test", _MODULE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ets = _load_module()

DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


@pytest.fixture(autouse=True)
def _default_printoptions():
    torch.set_printoptions(profile="default")
    ets.set_printoptions(profile="default")
    yield
    torch.set_printoptions(profile="default")
    ets.set_printoptions(profile="default")


# ---------------------------------------------------------------------------
# oracle helpers
# ---------------------------------------------------------------------------

_DTYPE_NAMES = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.int64): "int64",
    np.dtype(np.bool_): "bool",
}


def _dtype_name(arr):
    return _DTYPE_NAMES[arr.dtype]


def _is_default_dtype(arr):
    return _dtype_name(arr) in ("float32", "int64", "bool")


def _expected(t):
    return repr(t).replace("torch.", "ember.")


def _oracle_variants(arr, with_suffixes=True):
    """(torch tensor, numpy data, suffixes) triples built from one array."""
    base = torch.from_numpy(arr)
    out = [(base, arr, [])]
    if with_suffixes and arr.dtype.kind == "f":
        leaf = base.clone().requires_grad_(True)
        out.append((leaf, arr, [("requires_grad", "True")]))
        product = leaf * 1
        out.append(
            (
                product,
                product.detach().numpy(),
                [("grad_fn", f"<{type(product.grad_fn).__name__}>")],
            )
        )
    return out


def _compare(arrays, with_suffixes=True):
    """Compare every array (with its suffix variants); return (count, mismatches)."""
    count = 0
    mismatches = []
    for arr in arrays:
        for t, data, suffixes in _oracle_variants(arr, with_suffixes):
            expected = _expected(t)
            got = ets.format_tensor(
                data,
                dtype_name=_dtype_name(arr),
                default_dtype=_is_default_dtype(arr),
                suffixes=suffixes,
            )
            count += 1
            if got != expected:
                mismatches.append(
                    f"shape={arr.shape} dtype={arr.dtype} suffixes={suffixes}\n"
                    f"expected:\n{expected}\ngot:\n{got}\ndata head: {arr.reshape(-1)[:8]!r}"
                )
    return count, mismatches


def _assert_all_equal(arrays, with_suffixes=True):
    count, mismatches = _compare(arrays, with_suffixes)
    assert count > 0
    assert not mismatches, f"{len(mismatches)} of {count} differ; first ones:\n\n" + "\n\n".join(
        mismatches[:3]
    )
    return count


# ---------------------------------------------------------------------------
# data generation (deterministic)
# ---------------------------------------------------------------------------

SHAPES = [
    (),
    (0,),
    (0, 3),
    (1,),
    (5,),
    (3, 4),
    (2, 3, 4),
    (2000,),
    (40, 40),
    (3, 1000),
    (2, 2, 2, 2, 2),
]
SMALL_SHAPES = [
    (),
    (0,),
    (2, 0),
    (1,),
    (5,),
    (3, 4),
    (2, 3, 4),
    (13,),
    (2, 2, 2, 2, 2),
    (1, 1, 1, 1, 1, 1),
]
BIG_SHAPES = [(2000,), (40, 40), (3, 1000), (1001,), (2, 30, 20)]
SCALES = [1e-6, 1e-3, 1.0, 1e3, 1e6, 1e10]
FLOAT_KINDS = [
    "normal",
    "integer",
    "nonfinite",
    "positive",
    "tenths",
    "special_only",
    "wide_integers",
]


def _float_array(rng, shape, scale, kind, dtype):
    n = math.prod(shape)
    a = rng.standard_normal(shape) * scale
    if kind == "integer":
        a = np.round(a)
    elif kind == "nonfinite" and n:
        flat = a.reshape(-1)
        idx = rng.integers(0, n, size=max(1, n // 4))
        flat[idx] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0], size=idx.size)
    elif kind == "positive":
        a = np.abs(a) + scale * 1e-3
    elif kind == "tenths":
        a = np.round(a * 10.0) / 10.0
    elif kind == "special_only":
        a = np.zeros(shape)
        if n:
            flat = a.reshape(-1)
            flat[rng.integers(0, n, size=max(1, n // 3))] = rng.choice(
                [np.nan, np.inf, -np.inf, -0.0]
            )
    elif kind == "wide_integers":
        a = np.round(rng.standard_normal(shape) * rng.choice([10.0, 1e3, 1e5, 1e9]))
    return np.asarray(a, dtype=dtype)


def _int_array(rng, shape, magnitude):
    return np.asarray(rng.integers(-magnitude, magnitude + 1, size=shape, dtype=np.int64))


def _bool_array(rng, shape):
    return np.asarray(rng.random(shape) < 0.5)


def _float_arrays(seed, dtype, shapes, scales=SCALES, kinds=FLOAT_KINDS):
    rng = np.random.default_rng(seed)
    return [
        _float_array(rng, shape, scale, kind, dtype)
        for shape in shapes
        for scale in scales
        for kind in kinds
    ]


def _other_arrays(seed, shapes):
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        for magnitude in (1, 9, 1000, 10**6, 10**12, 2**62):
            arrays.append(_int_array(rng, shape, magnitude))
        arrays.append(_bool_array(rng, shape))
        arrays.append(np.ones(shape, dtype=np.bool_))
    return arrays


def _handpicked_arrays():
    f32 = lambda *v: np.array(v, dtype=np.float32)
    f64 = lambda *v: np.array(v, dtype=np.float64)
    return [
        f32(1e-4, 1.5),
        f64(9.9999e-5, 1.5),
        f32(1e8),
        f64(1e8 + 1),
        f64(1e8, 1.5),
        f32(1, 1000),
        f32(1, 1001),
        f64(0.5, 500.0),
        f64(0.5, 500.1),
        f32(9.99995),
        f64(9.99995, 1.25),
        f64(-0.0),
        f64(-0.0, 0.0),
        f32(-0.0, 1.5),
        f32(np.nan),
        f32(-np.inf),
        f64(np.nan, 1e-9),
        f32(3.4e38, -3.4e38),
        f64(1e300, 1e-300),
        f64(5e-324, 1.0),
        f32(1.0, np.nan, -np.inf, 100.0),
        f32(0.1, 0.2, 0.3),
        np.array(3.0, dtype=np.float32),
        np.array(-2.5),
        np.arange(1001, dtype=np.float32),
        np.arange(1000, dtype=np.float32).reshape(10, 100),
        np.arange(1001, dtype=np.int64) * 10**15,
        np.array([-(2**63), 2**63 - 1]),
        np.array(True),
        np.array(5),
        np.zeros((2, 0, 3), np.int64),
        np.zeros((0,), np.bool_),
        np.zeros((0, 0)),
        np.zeros((1, 1, 1, 1, 1, 1)),
        np.linspace(-1e6, 1e6, 3000).reshape(3, 10, 100),
        np.arange(64.0).reshape(2, 2, 2, 2, 2, 2) - 31.5,
        np.ones((7, 1, 1001)),
        np.random.default_rng(7).standard_normal((2, 3, 4, 5, 6)).astype(np.float32),
        np.asfortranarray(np.arange(12.0).reshape(3, 4)) / 7.0,
    ]


# ---------------------------------------------------------------------------
# comparisons with the default options
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays_match_torch(dtype):
    _assert_all_equal(_float_arrays(1234, dtype, SHAPES))


def test_int_and_bool_arrays_match_torch():
    _assert_all_equal(_other_arrays(99, SHAPES))


def test_handpicked_arrays_match_torch():
    _assert_all_equal(_handpicked_arrays())


# ---------------------------------------------------------------------------
# comparisons under other print options
# ---------------------------------------------------------------------------

OPTION_SETS = [
    {"precision": 2},
    {"precision": 0},
    {"precision": 8, "linewidth": 120},
    {"sci_mode": True},
    {"sci_mode": False},
    {"linewidth": 40},
    {"linewidth": 1},
    {"edgeitems": 1, "threshold": 20},
    {"edgeitems": 0},
    {"edgeitems": 0, "threshold": 10},
    {"threshold": 0},
    {"profile": "short"},
    {"profile": "full"},
    {"profile": "short", "sci_mode": True, "linewidth": 30},
]


@pytest.mark.parametrize(
    "options", OPTION_SETS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())
)
def test_arrays_match_torch_under_printoptions(options):
    torch.set_printoptions(**options)
    ets.set_printoptions(**options)
    if options.get("profile") == "full":
        shapes = SMALL_SHAPES
    elif options.get("edgeitems") == 0:  # torch then scans every element of a vector: keep it small
        shapes = SMALL_SHAPES + BIG_SHAPES[1:3]
    else:
        shapes = SMALL_SHAPES + BIG_SHAPES[:3]
    arrays = (
        _float_arrays(5, np.float32, shapes, scales=[1e-6, 1.0, 1e10], kinds=FLOAT_KINDS[:4])
        + _float_arrays(6, np.float64, shapes, scales=[1e-3, 1e8], kinds=FLOAT_KINDS[3:])
        + _other_arrays(7, shapes[:6] + shapes[-3:])
    )
    # Suffix placement only depends on the linewidth; elsewhere the plain repr is enough.
    _assert_all_equal(arrays, with_suffixes=options.get("linewidth") == 40)


def test_full_profile_prints_everything():
    torch.set_printoptions(profile="full")
    ets.set_printoptions(profile="full")
    arrays = [np.arange(2000, dtype=np.int64), np.linspace(0.0, 1.0, 1200).reshape(30, 40)]
    assert "..." not in ets.format_tensor(arrays[0], dtype_name="int64", default_dtype=True)
    _assert_all_equal(arrays)


# ---------------------------------------------------------------------------
# literal examples and suffix handling
# ---------------------------------------------------------------------------


def test_literal_examples():
    fmt = ets.format_tensor
    assert (
        fmt(
            np.full((1, 2), 3.1, np.float32),
            dtype_name="float32",
            default_dtype=True,
            suffixes=[("grad_fn", "<MulBackward0>")],
        )
        == "tensor([[3.1000, 3.1000]], grad_fn=<MulBackward0>)"
    )
    assert (
        fmt(
            np.array(28.83, np.float32),
            dtype_name="float32",
            default_dtype=True,
            suffixes=[("grad_fn", "<MeanBackward0>")],
        )
        == "tensor(28.8300, grad_fn=<MeanBackward0>)"
    )
    assert (
        fmt(
            np.array([1.0, 2.0]),
            dtype_name="float64",
            default_dtype=False,
            suffixes=[("requires_grad", "True")],
        )
        == "tensor([1., 2.], dtype=ember.float64, requires_grad=True)"
    )
    assert (
        fmt(np.zeros((0, 3), np.float32), dtype_name="float32", default_dtype=True)
        == "tensor([], size=(0, 3))"
    )
    assert (
        fmt(np.zeros((0,), np.int64), dtype_name="int64", default_dtype=True)
        == "tensor([], dtype=ember.int64)"
    )
    assert (
        fmt(np.array([True, False]), dtype_name="bool", default_dtype=True)
        == "tensor([ True, False])"
    )
    assert (
        fmt(
            np.array([1.0, np.nan, -np.inf, 100.0], np.float32),
            dtype_name="float32",
            default_dtype=True,
        )
        == "tensor([  1.,  nan, -inf, 100.])"
    )
    assert (
        fmt(np.array([-0.0, 1.0], np.float32), dtype_name="float32", default_dtype=True)
        == "tensor([-0., 1.])"
    )
    assert (
        fmt(np.array([1e-5, 1.0], np.float32), dtype_name="float32", default_dtype=True)
        == "tensor([1.0000e-05, 1.0000e+00])"
    )


def test_autograd_results_match_torch():
    x = torch.tensor([[1.5, 2.25, -3.0], [4.0, 5.125, 6.0]], requires_grad=True)
    results = [x * 3.1, x.mean(), x.sum(), x.exp(), (x * 1e-7).sum(dim=0), x.t().double(), x[0]]
    for r in results:
        data = r.detach().numpy()
        suffixes = [("grad_fn", f"<{type(r.grad_fn).__name__}>")]
        got = ets.format_tensor(
            data,
            dtype_name=str(r.dtype).split(".")[1],
            default_dtype=r.dtype == torch.float32,
            suffixes=suffixes,
        )
        assert got == _expected(r)


def _identity_function(name):
    """An autograd Function whose grad_fn prints as <{name}Backward>."""
    return type(
        name,
        (torch.autograd.Function,),
        {
            "forward": staticmethod(lambda ctx, x: x * 1),
            "backward": staticmethod(lambda ctx, grad: grad),
        },
    )


def test_long_grad_fn_names_wrap_like_torch():
    functions = [_identity_function("F" + "Q" * k) for k in (0, 10, 25, 40, 55, 70)]
    arrays = [
        np.array(1.5, np.float32),
        np.array(-2.0),
        np.arange(20, dtype=np.float64) / 3.0,
        np.arange(6.0, dtype=np.float32).reshape(2, 3),
        np.arange(9.0).reshape(3, 3) * 1e5,
    ]
    for linewidth in (80, 40, 200):
        torch.set_printoptions(linewidth=linewidth)
        ets.set_printoptions(linewidth=linewidth)
        for arr in arrays:
            leaf = torch.from_numpy(arr).clone().requires_grad_(True)
            for function in functions:
                out = function.apply(leaf)
                got = ets.format_tensor(
                    out.detach().numpy(),
                    dtype_name=_dtype_name(arr),
                    default_dtype=_is_default_dtype(arr),
                    suffixes=[("grad_fn", f"<{type(out.grad_fn).__name__}>")],
                )
                assert got == _expected(out)


def test_suffix_wrapping_with_torch_dtype_and_grad():
    # dtype + grad_fn on wide float64 rows: the suffixes must move to new lines exactly like torch.
    rng = np.random.default_rng(3)
    arrays = [
        np.asarray(rng.standard_normal(shape) * 1e5) for shape in [(7,), (8,), (9,), (2, 7), (3, 8)]
    ]
    for linewidth in (80, 60, 100):
        torch.set_printoptions(linewidth=linewidth)
        ets.set_printoptions(linewidth=linewidth)
        _assert_all_equal(arrays)


# ---------------------------------------------------------------------------
# print options API
# ---------------------------------------------------------------------------


def test_default_printoptions():
    assert ets.get_printoptions() == DEFAULTS
    assert ets.get_printoptions() == torch._tensor_str.get_printoptions()


def test_get_printoptions_returns_a_copy():
    opts = ets.get_printoptions()
    opts["precision"] = 99
    assert ets.get_printoptions()["precision"] == 4


CALL_SEQUENCES = [
    [{"precision": 2}],
    [{"threshold": 5}, {"edgeitems": 1}],
    [{"linewidth": 120, "sci_mode": True}],
    [{"sci_mode": False}, {"precision": 3}],  # a call without sci_mode resets it to None
    [{"profile": "short"}],
    [{"profile": "full"}],
    [{"profile": "full", "precision": 6}],
    [{"precision": 7, "linewidth": 33}, {"profile": "default"}],
    [{"profile": "short", "edgeitems": 5, "sci_mode": True}],
    [{"precision": 2}, {"profile": "no-such-profile"}],
    [{"profile": "full"}, {"profile": "short"}, {"threshold": 10**6}],
]


@pytest.mark.parametrize("calls", CALL_SEQUENCES, ids=str)
def test_set_printoptions_round_trip(calls):
    for kwargs in calls:
        torch.set_printoptions(**kwargs)
        ets.set_printoptions(**kwargs)
        assert ets.get_printoptions() == torch._tensor_str.get_printoptions()
    arr = np.array([[0.000123456, 12.5, -3.0], [1e3, 2.5, np.nan]])
    assert ets.format_tensor(arr, dtype_name="float64", default_dtype=False) == _expected(
        torch.from_numpy(arr)
    )
    ets.set_printoptions(profile="default")
    assert ets.get_printoptions() == DEFAULTS


def test_printoptions_affect_format_tensor():
    arr = np.arange(10, dtype=np.float32) / 3
    before = ets.format_tensor(arr, dtype_name="float32", default_dtype=True)
    ets.set_printoptions(precision=2, threshold=5, edgeitems=2)
    assert (
        ets.format_tensor(arr, dtype_name="float32", default_dtype=True)
        == "tensor([0.00, 0.33,  ..., 2.67, 3.00])"
    )
    ets.set_printoptions(profile="default")
    assert ets.format_tensor(arr, dtype_name="float32", default_dtype=True) == before


def test_printoptions_context_manager_restores():
    ets.set_printoptions(precision=6, sci_mode=True)
    with ets.printoptions(precision=1, linewidth=20):
        assert ets.get_printoptions()["precision"] == 1
        assert ets.get_printoptions()["sci_mode"] is None
    assert ets.get_printoptions() == {**DEFAULTS, "precision": 6, "sci_mode": True}

"""The CPU backend (issue 3): matmul and elementwise results against numpy under each
EMBER_CPU setting (unset: the best table the CPU runs; avx2; reference; each in a subprocess, since the kernel table is chosen once at
start-up), backend_info, and set_num_threads/get_num_threads. No timing here: see bench/."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember

# Runs in a fresh interpreter; prints a JSON report of every check's max error.
CHECKS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import ember

    rng = np.random.default_rng(0)
    report = {"info": ember.backend_info(), "errors": {}}
    err = report["errors"]

    def rel(got, want):
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        scale = np.maximum(1.0, np.abs(want))
        return float(np.max(np.abs(got - want) / scale)) if want.size else 0.0

    shapes = [(1, 1, 1), (7, 8, 9), (6, 16, 17), (5, 15, 7), (100, 3, 32), (100, 32, 1),
              (255, 257, 17), (130, 300, 150), (64, 520, 70),
              # the streamed path and the five loops, with edge tiles of every kind
              (201, 300, 451), (301, 600, 83)]
    for dt in (np.float32, np.float64):
        for threads in (1, 2):
            ember.set_num_threads(threads)
            for m, k, n in shapes:
                a = rng.standard_normal((m, k)).astype(dt)
                b = rng.standard_normal((k, n)).astype(dt)
                ea, eb = ember.from_numpy(a), ember.from_numpy(b)
                key = f"{np.dtype(dt).name} t{threads} {m}x{k}@{k}x{n}"
                err[key + " mm"] = rel(ember.mm(ea, eb).numpy(), a @ b)
                # transposed and strided operands, read in place
                at = np.ascontiguousarray(a.T)
                err[key + " At"] = rel(ember.mm(ember.from_numpy(at).t(), eb).numpy(), a @ b)
                bt = np.ascontiguousarray(b.T)
                err[key + " Bt"] = rel(ember.mm(ea, ember.from_numpy(bt).t()).numpy(), a @ b)
                a2 = rng.standard_normal((2 * m, k)).astype(dt)
                err[key + " A[::2]"] = rel(ember.mm(ember.from_numpy(a2)[::2], eb).numpy(), a2[::2] @ b)
                # addmm: the bias written into C first and the product accumulated onto it
                bias = rng.standard_normal(n).astype(dt)
                err[key + " addmm"] = rel(ember.addmm(ember.from_numpy(bias), ember.from_numpy(at).t(), eb).numpy(),
                                          bias + a @ b)
                err[key + " addmm scaled"] = rel(ember.addmm(ember.from_numpy(bias), ea, eb, beta=0.5, alpha=2).numpy(),
                                                 0.5 * bias + 2 * (a @ b))
                c0 = rng.standard_normal((m, n)).astype(dt)
                ec = ember.from_numpy(c0.copy())
                ec.addmm_(ea, ember.from_numpy(bt).t())
                err[key + " addmm_"] = rel(ec.numpy(), c0 + a @ b)
            for n in (1, 7, 8, 9, 15, 16, 17, 255, 257, 300001):
                x = rng.standard_normal(n).astype(dt)
                y = rng.standard_normal(n).astype(dt)
                ex, ey = ember.from_numpy(x), ember.from_numpy(y)
                key = f"{np.dtype(dt).name} t{threads} n={n}"
                err[key + " add"] = rel((ex + ey).numpy(), x + y)
                err[key + " sub"] = rel((ex - ey).numpy(), x - y)
                err[key + " mul"] = rel((ex * ey).numpy(), x * y)
                err[key + " div"] = rel((ex / (ey.abs() + 1)).numpy(), x / (np.abs(y) + 1))
                err[key + " add scalar"] = rel((ex + 2.5).numpy(), x + dt(2.5))
                err[key + " mul scalar"] = rel((ex * 3.0).numpy(), x * dt(3.0))
                err[key + " clamp"] = rel(ex.clamp(min=0).numpy(), np.maximum(x, 0))
                err[key + " clamp2"] = rel(ex.clamp(-0.5, 0.5).numpy(), np.clip(x, -0.5, 0.5))
                err[key + " relu"] = rel(ember.relu(ex).numpy(), np.maximum(x, 0))
                err[key + " sum"] = rel(ex.sum().numpy(), x.astype(np.float64).sum())
                m2 = rng.standard_normal((3, n)).astype(dt)
                err[key + " sum0"] = rel(ember.from_numpy(m2).sum(0).numpy(), m2.astype(np.float64).sum(0))
                err[key + " row bcast"] = rel((ember.from_numpy(m2) + ex).numpy(), m2 + x)
                # the unary math functions (float32: vmath.h in the SIMD tables) and pow
                xp = np.abs(x) + 0.1
                exp_ = ember.from_numpy(xp)
                err[key + " exp"] = rel(ex.exp().numpy(), np.exp(x))
                err[key + " log"] = rel(exp_.log().numpy(), np.log(xp))
                err[key + " sqrt"] = rel(exp_.sqrt().numpy(), np.sqrt(xp))
                err[key + " tanh"] = rel(ex.tanh().numpy(), np.tanh(x))
                err[key + " sigmoid"] = rel(ex.sigmoid().numpy(), 1 / (1 + np.exp(-x)))
                err[key + " sin"] = rel(ex.sin().numpy(), np.sin(x))
                err[key + " cos"] = rel(ex.cos().numpy(), np.cos(x))
                err[key + " reciprocal"] = rel(exp_.reciprocal().numpy(), 1 / xp)
                err[key + " sign"] = rel(ex.sign().numpy(), np.sign(x))
                err[key + " sin strided"] = rel(ember.from_numpy(m2).t().sin().numpy(), np.sin(m2.T))
                for e in (2, 3, -2, -1, 1.7):
                    err[key + f" pow {e}"] = rel(exp_.pow(e).numpy(), xp.astype(np.float64) ** e)
    print(json.dumps(report))
    """
)


def run_script(script, ember_cpu=None, aten_cpu_capability=None):
    """Runs `script` in a fresh interpreter with these settings (unset when None); returns
    the JSON it prints last."""
    env = {k: v for k, v in os.environ.items() if k not in ("EMBER_CPU", "ATEN_CPU_CAPABILITY")}
    if ember_cpu is not None:
        env["EMBER_CPU"] = ember_cpu
    if aten_cpu_capability is not None:
        env["ATEN_CPU_CAPABILITY"] = aten_cpu_capability
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=[None, "avx2", "reference"], ids=["default", "avx2", "reference"])
def report(request):
    return request.param, run_script(CHECKS, ember_cpu=request.param)


def test_backend_info_reports_the_table(report):
    ember_cpu, r = report
    info = r["info"]
    if ember_cpu == "reference":
        assert info["kernels"] == "reference"
        assert info["ember_cpu"] == "reference"
    else:
        avx2 = info["cpu_avx2"] and info["cpu_fma"]
        best = "avx512" if info["cpu_avx512"] and ember_cpu is None else "avx2" if avx2 else "reference"
        assert info["kernels"] == best
        assert not info["cpu_avx512"] or avx2
    assert info["num_threads"] >= 1


def test_results_match_numpy(report):
    _, r = report
    bad = {k: v for k, v in r["errors"].items() if v > (2e-4 if "float32" in k else 1e-11)}
    assert not bad, bad


def test_float32_sum_of_1e7_is_accurate():
    x = np.full(10_000_000, 0.1, dtype=np.float32)
    got = float(ember.from_numpy(x).sum().item())
    assert abs(got - 0.1 * 1e7) / 1e6 < 1e-6


def test_num_threads_round_trip():
    saved = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        assert ember.backend_info()["num_threads"] == 1
        ember.set_num_threads(2)
        assert ember.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="set_num_threads"):
            ember.set_num_threads(0)
    finally:
        ember.set_num_threads(saved)


def test_thread_count_does_not_change_results():
    saved = ember.get_num_threads()
    rng = np.random.default_rng(1)
    a = ember.from_numpy(rng.standard_normal((300, 700)).astype(np.float32))
    b = ember.from_numpy(rng.standard_normal((700, 290)).astype(np.float32))
    x = ember.from_numpy(rng.standard_normal(3_000_001).astype(np.float32))
    try:
        results = []
        for n in (1, 2, 3):
            ember.set_num_threads(n)
            results.append((ember.mm(a, b).numpy(), x.sum().item(), (x * 2 + 1).numpy()))
        for r in results[1:]:
            assert np.array_equal(r[0], results[0][0])
            assert r[1] == results[0][1]
            assert np.array_equal(r[2], results[0][2])
    finally:
        ember.set_num_threads(saved)


def test_freed_large_buffers_are_reused():
    ember._C._release_cache()
    x = ember.zeros(1 << 20)
    del x
    assert ember.backend_info()["cached_bytes"] >= 4 << 20
    y = ember.zeros(1 << 20)  # takes the cached block
    assert ember.backend_info()["cached_bytes"] == 0
    del y
    assert ember._C._release_cache() >= 4 << 20
    assert ember.backend_info()["cached_bytes"] == 0


@pytest.mark.parametrize("floats", [32 * 1024, 40960, 50_000, 65_535])
def test_freed_medium_buffers_are_reused(floats):
    # 128-256 KiB: past the per-thread small classes (up to 128 KiB), so the large-block
    # cache keeps them (a 4096 x 10 float32 tensor of the scaled training step is 160 KiB).
    ember._C._release_cache()
    x = ember.zeros(floats)
    del x
    assert ember.backend_info()["cached_bytes"] >= 4 * floats
    y = ember.zeros(floats)  # takes the cached block
    assert ember.backend_info()["cached_bytes"] == 0
    del y
    assert ember._C._release_cache() >= 4 * floats


# Runs in a fresh interpreter: ember's and torch's random streams and linspace side by side.
STREAMS = textwrap.dedent(
    """
    import json
    import numpy as np
    import ember, torch

    sizes = [(1,), (7,), (16,), (17,), (100,), (100, 3), (3, 32), (32, 1), (1000,), (2, 3, 4)]
    out = {"stream": ember.backend_info()["torch_capability"], "kernels": ember.backend_info()["kernels"],
           "torch": torch.backends.cpu.get_cpu_capability(), "mismatches": []}
    for seed in (0, 42):
        for dtype in ("float32", "float64"):
            ember.manual_seed(seed)
            torch.manual_seed(seed)
            for s in sizes:
                for fn in ("randn", "rand"):
                    e = getattr(ember, fn)(*s, dtype=getattr(ember, dtype)).numpy()
                    t = getattr(torch, fn)(*s, dtype=getattr(torch, dtype)).numpy()
                    if not np.array_equal(e.view(np.uint8), t.view(np.uint8)):
                        out["mismatches"].append(f"seed {seed} {dtype} {fn}{s}")
    for dtype in ("float32", "float64"):
        for args in ((-3.141592653589793, 3.141592653589793, 2000), (-7.3, 2.1, 999), (1, -1, 101), (0, 1, 1)):
            e = ember.linspace(*args, dtype=getattr(ember, dtype)).numpy()
            t = torch.linspace(*args, dtype=getattr(torch, dtype)).numpy()
            if not np.array_equal(e.view(np.uint8), t.view(np.uint8)):
                out["mismatches"].append(f"{dtype} linspace{args}")
    ember.manual_seed(0)
    out["randn100"] = ember.randn(100).numpy().tolist()
    out["linspace"] = ember.linspace(-7.3, 2.1, 999).numpy().tolist()
    print(json.dumps(out))
    """
)


def test_random_streams_and_linspace_follow_torchs_kernels():
    # torch's float32 randn (n >= 16) and linspace differ between its AVX2 (or AVX512) and
    # its baseline build; ember reproduces the one torch runs on the same CPU: with its
    # AVX2 or AVX-512 kernels the AVX2/AVX512 build's (the two give the same streams), with
    # the reference kernels (EMBER_CPU=reference, or a CPU without AVX2, where torch runs
    # its baseline build too) the baseline build's. EMBER_CPU=avx2 pairs with
    # ATEN_CPU_CAPABILITY=avx2.
    native = run_script(STREAMS)
    capped = run_script(STREAMS, ember_cpu="avx2", aten_cpu_capability="avx2")
    baseline = run_script(STREAMS, ember_cpu="reference", aten_cpu_capability="default")
    assert baseline["kernels"] == "reference" and baseline["stream"] == baseline["torch"] == "DEFAULT"
    names = {"avx512": "AVX512", "avx2": "AVX2", "reference": "DEFAULT"}
    for r in (native, capped):
        assert r["stream"] == names[r["kernels"]]
        assert r["stream"] == r["torch"]
        assert not r["mismatches"], r["mismatches"]
    assert not baseline["mismatches"], baseline["mismatches"]
    if native["stream"] != "DEFAULT":  # the two builds really differ, so each check above can fail
        assert native["randn100"] != baseline["randn100"]
        assert native["linspace"] != baseline["linspace"]

"""Kernel benchmarks for issue 3: ember against numpy and PyTorch, in one run.

    flock /tmp/ember-build.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py

Prints markdown tables (medians over all samples of every round, and ratios):
  - the FMA peak (bench/fma_peak.c, compiled here with gcc) on 1 and 2 threads;
  - GEMM GFLOP/s, float32: square 64..2048 and the MLP shapes 4096x256 @ 256x1024 and
    (4096x256)^T @ 4096x1024, on 1 and 2 threads, and each as a fraction of the peak;
  - clamp(min=0), add, mul, sum on 1e6 and 1e7 float32 in GB/s, allocating a new output
    each call as users do, against a memory copy into a preallocated array;
  - the scaled training step (n=4096, 256 -> 1024 -> 10, forward + backward + SGD update)
    in ms per step; numpy runs it with hand-written gradients;
  - with --sections addmm (not in the default run): a linear layer's forward, addmm (the
    bias written into the output, the GEMM accumulating onto it) against mm followed by add;
  - with --sections math (not in the default run): exp, log, tanh, sigmoid, sin, cos, sqrt,
    reciprocal and pow on 1e6 float32, ms per call.
Every (library, threads) pair runs in its own child process (so idle BLAS/OpenMP threads of
one library cannot take a core from another), and the children of one round are
interleaved with the other libraries'. PyTorch is skipped if it is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIBS = ["ember", "numpy", "torch"]
SQUARE = [64, 128, 256, 512, 1024, 2048]
MLP_SHAPES = {"4096x256 @ 256x1024": (4096, 256, 1024, False), "(4096x256)^T @ 4096x1024": (256, 4096, 1024, True)}
ELEM_SIZES = [10**6, 10**7]
ELEM_OPS = ["clamp", "add", "mul", "sum", "copy"]
BYTES_PER_ELEM = {"clamp": 8, "add": 12, "mul": 12, "sum": 4, "copy": 8}


def timed(f, min_reps=5, budget=0.4, warmup=0.1):
    """Warm up for `warmup` seconds (caches, the pool, the second core's clock), then time f
    until min_reps samples and `budget` seconds."""
    start = time.perf_counter()
    f()
    while time.perf_counter() - start < warmup:
        f()
    samples, start = [], time.perf_counter()
    while len(samples) < min_reps or time.perf_counter() - start < budget:
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
        if len(samples) >= 50:
            break
    return samples


# ---------------------------------------------------------------- workers (child processes)


def import_lib(lib, threads):
    import numpy as np

    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
        return np, torch
    if lib == "ember":
        import ember

        ember.set_num_threads(threads)
        return np, ember
    return np, np


def worker_gemm(lib, threads, quick):
    np, L = import_lib(lib, threads)
    rng = np.random.default_rng(0)
    out = {}
    shapes = {f"{n}^3": (n, n, n, False) for n in (SQUARE[:4] if quick else SQUARE)}
    shapes.update(MLP_SHAPES)
    for name, (m, k, n, transposed) in shapes.items():
        a = rng.standard_normal((k, m) if transposed else (m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        if lib == "numpy":
            A = a.T if transposed else a
            f = lambda A=A, b=b: A @ b  # noqa: E731
        elif lib == "torch":
            ta, tb = L.from_numpy(a), L.from_numpy(b)
            A = ta.t() if transposed else ta
            f = lambda A=A, tb=tb: L.mm(A, tb)  # noqa: E731
        else:
            ea, eb = L.from_numpy(a), L.from_numpy(b)
            A = ea.t() if transposed else ea
            f = lambda A=A, eb=eb: L.mm(A, eb)  # noqa: E731
        out[name] = [2.0 * m * n * k / t / 1e9 for t in timed(f)]
    return out


def worker_elementwise(lib, threads, quick):
    np, L = import_lib(lib, threads)
    rng = np.random.default_rng(0)
    out = {}
    for size in ELEM_SIZES:
        x = rng.standard_normal(size).astype(np.float32)
        y = rng.standard_normal(size).astype(np.float32)
        dst = np.empty_like(x)
        if lib == "numpy":
            ops = {"clamp": lambda: np.maximum(x, 0), "add": lambda: x + y, "mul": lambda: x * y,
                   "sum": lambda: x.sum(), "copy": lambda: np.copyto(dst, x)}
        else:
            tx, ty, td = L.from_numpy(x), L.from_numpy(y), L.from_numpy(dst)
            ops = {"clamp": lambda: L.clamp(tx, min=0), "add": lambda: tx + ty, "mul": lambda: tx * ty,
                   "sum": lambda: tx.sum(), "copy": lambda: td.copy_(tx)}
        for op, f in ops.items():
            out[f"{op} {size:.0e}"] = [BYTES_PER_ELEM[op] * size / t / 1e9 for t in timed(f, budget=0.3)]
    return out


def worker_mlp(lib, threads, quick):
    np, L = import_lib(lib, threads)
    n, d_in, d_h, d_out = 4096, 256, 1024, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    y = rng.standard_normal((n, d_out)).astype(np.float32)
    w1 = (rng.standard_normal((d_in, d_h)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((d_h, d_out)) * 0.05).astype(np.float32)
    b1 = np.zeros((1, d_h), np.float32)
    b2 = np.zeros((1, d_out), np.float32)
    lr = 1e-4
    if lib == "numpy":
        sys.path.insert(0, HERE)
        from numpy_chapter import train  # the chapter's step with hand-written gradients

        def step():
            train(x, y, w1, w2, b1, b2, iterations=1, learning_rate=lr)
    else:
        X, Y = L.from_numpy(x), L.from_numpy(y)
        W1, W2 = L.from_numpy(w1).requires_grad_(), L.from_numpy(w2).requires_grad_()
        B1, B2 = L.from_numpy(b1).requires_grad_(), L.from_numpy(b2).requires_grad_()

        def step():  # the chapter's step, scaled
            loss = (X.mm(W1).add(B1).clamp(min=0).mm(W2).add(B2) - Y).pow(2).mean()
            loss.backward()
            with L.no_grad():
                for p in (W1, W2, B1, B2):
                    p.sub_(lr * p.grad)
                    p.grad.zero_()

    return {"step": [t * 1e3 for t in timed(step, min_reps=8, budget=1.5)]}


ADDMM_SHAPES = {"4096x256 @ 256x1024 + b[1024]": (4096, 256, 1024), "4096x1024 @ 1024x10 + b[10]": (4096, 1024, 10)}


def worker_addmm(lib, threads, quick):
    """A linear layer's forward: the product plus a bias row, fused (addmm: the bias is
    written into the output and the GEMM accumulates onto it) and as mm followed by add.
    numpy has no fused form; its figure is x @ w + b in both rows."""
    np, L = import_lib(lib, threads)
    rng = np.random.default_rng(0)
    out = {}
    for name, (m, k, n) in ADDMM_SHAPES.items():
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((k, n)).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        if lib == "numpy":
            fused = unfused = lambda x=x, w=w, b=b: x @ w + b  # noqa: E731
        else:
            X, W, B = L.from_numpy(x), L.from_numpy(w), L.from_numpy(b)
            fused = lambda X=X, W=W, B=B: L.addmm(B, X, W)  # noqa: E731
            unfused = lambda X=X, W=W, B=B: X.mm(W).add(B)  # noqa: E731
        out[f"{name} addmm"] = [t * 1e3 for t in timed(fused)]
        out[f"{name} mm + add"] = [t * 1e3 for t in timed(unfused)]
    return out


MATH_SIZE = 10**6
MATH_OPS = ["exp", "log", "tanh", "sigmoid", "sin", "cos", "sqrt", "reciprocal", "pow 2", "pow 3", "pow 1.5"]


def worker_math(lib, threads, quick):
    """The unary math functions and pow on 1e6 float32 (in L3), new output per call, ms.
    log, sqrt, reciprocal and pow take positive inputs."""
    np, L = import_lib(lib, threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(MATH_SIZE).astype(np.float32)
    xp = (np.abs(x) + 0.1).astype(np.float32)
    if lib == "numpy":
        ops = {"exp": lambda: np.exp(x), "log": lambda: np.log(xp), "tanh": lambda: np.tanh(x),
               "sigmoid": lambda: 1 / (1 + np.exp(-x)), "sin": lambda: np.sin(x), "cos": lambda: np.cos(x),
               "sqrt": lambda: np.sqrt(xp), "reciprocal": lambda: np.reciprocal(xp), "pow 2": lambda: xp**2,
               "pow 3": lambda: xp**3, "pow 1.5": lambda: xp**1.5}
    else:
        tx, tp = L.from_numpy(x), L.from_numpy(xp)
        ops = {"exp": tx.exp, "log": tp.log, "tanh": tx.tanh, "sigmoid": tx.sigmoid, "sin": tx.sin, "cos": tx.cos,
               "sqrt": tp.sqrt, "reciprocal": tp.reciprocal, "pow 2": lambda: tp.pow(2), "pow 3": lambda: tp.pow(3),
               "pow 1.5": lambda: tp.pow(1.5)}
    return {op: [t * 1e3 for t in timed(f, budget=0.2)] for op, f in ops.items()}


WORKERS = {"gemm": worker_gemm, "elementwise": worker_elementwise, "mlp": worker_mlp, "addmm": worker_addmm,
           "math": worker_math}

# ---------------------------------------------------------------- driver


def child_env(threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "EMBER_CPU"):
        env.pop(var, None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "EMBER_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_child(section, lib, threads, quick):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", section, "--lib", lib, "--threads", str(threads)]
    if quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{section}/{lib}/{threads} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compile_fma_peak(out, *flags):
    """Builds bench/fma_peak.c into `out` (with extra gcc flags, e.g. -shared -fPIC);
    False without a C compiler."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        return False
    subprocess.run([gcc, "-O2", "-mavx2", "-mfma", *flags, os.path.join(HERE, "fma_peak.c"), "-o", out], check=True)
    return True


def fma_peak():
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "fma_peak")
        if not compile_fma_peak(exe, "-pthread"):
            return {}, "avx2"
        out = subprocess.run([exe, "1", "2"], capture_output=True, text=True, check=True).stdout
    # "threads GFLOP/s isa" lines: the peak of the widest FMA the CPU has (avx512 or avx2)
    rows = [line.split() for line in out.strip().splitlines()]
    return {int(r[0]): float(r[1]) for r in rows}, (rows[0][2] if rows and len(rows[0]) > 2 else "avx2")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=1):
    return "–" if x != x else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--lib")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sections", default="gemm,elementwise,mlp")
    ap.add_argument("--quick", action="store_true", help="fewer sizes, for a smoke test")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.lib, args.threads, args.quick)))
        return

    try:
        import torch  # noqa: F401

        libs = LIBS
    except ImportError:
        libs = [lib for lib in LIBS if lib != "torch"]
    import ember
    import numpy as np

    sections = args.sections.split(",")
    unknown = [x for x in sections if x not in WORKERS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(WORKERS)}")
    peaks = {1: [], 2: []}
    peak_isa = "avx2"
    samples = {}  # (section, lib, threads) -> {key: [values]}
    for r in range(args.rounds):
        measured, peak_isa = fma_peak()
        for t, g in measured.items():
            peaks.setdefault(t, []).append(g)
        for section in sections:
            order = libs if r % 2 == 0 else libs[::-1]
            for threads in (1, 2):
                for lib in order:
                    res = run_child(section, lib, threads, args.quick)
                    dst = samples.setdefault((section, lib, threads), {})
                    for key, vals in res.items():
                        dst.setdefault(key, []).extend(vals)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    info = ember.backend_info()
    print(f"ember kernels: {info['kernels']}; numpy {np.__version__}", end="")
    if "torch" in libs:
        import torch

        print(f"; torch {torch.__version__}", end="")
    print(f"; {args.rounds} rounds; medians of all samples\n")
    peak = {t: max(v) for t, v in peaks.items() if v}
    if peak:
        print(f"| FMA peak (bench/fma_peak.c, best, {peak_isa}) | 1 thread | 2 threads |\n|---|---|---|")
        print(f"| GFLOP/s | {fmt(peak.get(1, float('nan')))} | {fmt(peak.get(2, float('nan')))} |\n")

    def get(section, lib, threads, key):
        return med(samples.get((section, lib, threads), {}).get(key, []))

    if "gemm" in sections:
        print("| GEMM float32, GFLOP/s | threads | ember | numpy | torch | ember / best other | ember % of peak |")
        print("|---|---|---|---|---|---|---|")
        keys = list(samples[("gemm", "ember", 1)].keys())
        for key in keys:
            for threads in (1, 2):
                e, n_, t_ = (get("gemm", lib, threads, key) for lib in LIBS)
                best = max(v for v in (n_, t_) if v == v)
                pk = peak.get(threads, float("nan"))
                print(f"| {key} | {threads} | {fmt(e)} | {fmt(n_)} | {fmt(t_)} | {fmt(e / best, 2)} | "
                      f"{fmt(100 * e / pk, 0)}% |")
        print()
    if "elementwise" in sections:
        print("| elementwise float32, GB/s (new output per call) | threads | ember | numpy | torch | "
              "ember / torch | ember / copy |")
        print("|---|---|---|---|---|---|---|")
        for size in ELEM_SIZES:
            for threads in (1, 2):
                copy = max(get("elementwise", lib, threads, f"copy {size:.0e}") for lib in ("numpy", "torch", "ember"))
                for op in ELEM_OPS:
                    key = f"{op} {size:.0e}"
                    e, n_, t_ = (get("elementwise", lib, threads, key) for lib in LIBS)
                    print(f"| {key}{' (into preallocated)' if op == 'copy' else ''} | {threads} | {fmt(e)} | "
                          f"{fmt(n_)} | {fmt(t_)} | {fmt(e / t_, 2)} | {fmt(e / copy, 2)} |")
        print()
    if "addmm" in sections:
        print("| linear layer forward float32, ms | threads | ember | numpy (x @ w + b) | torch | torch / ember |")
        print("|---|---|---|---|---|---|")
        for key in samples[("addmm", "ember", 1)].keys():
            for threads in (1, 2):
                e, n_, t_ = (get("addmm", lib, threads, key) for lib in LIBS)
                print(f"| {key} | {threads} | {fmt(e, 2)} | {fmt(n_, 2)} | {fmt(t_, 2)} | {fmt(t_ / e, 2)} |")
        print()
    if "math" in sections:
        print(f"| unary math float32, {MATH_SIZE:.0e} elements, ms (new output per call) | threads | ember | numpy | "
              "torch | torch / ember | numpy / ember |")
        print("|---|---|---|---|---|---|---|")
        for op in MATH_OPS:
            for threads in (1, 2):
                e, n_, t_ = (get("math", lib, threads, op) for lib in LIBS)
                print(f"| {op} | {threads} | {fmt(e, 3)} | {fmt(n_, 3)} | {fmt(t_, 3)} | {fmt(t_ / e, 2)} | "
                      f"{fmt(n_ / e, 2)} |")
        print()
    if "mlp" in sections:
        print("| training step n=4096, 256->1024->10, ms | threads | ember | numpy (hand gradients) | torch | "
              "torch / ember | numpy / ember |")
        print("|---|---|---|---|---|---|---|")
        for threads in (1, 2):
            e, n_, t_ = (get("mlp", lib, threads, "step") for lib in LIBS)
            print(f"| step | {threads} | {fmt(e)} | {fmt(n_)} | {fmt(t_)} | {fmt(t_ / e, 2)} | {fmt(n_ / e, 2)} |")


if __name__ == "__main__":
    main()

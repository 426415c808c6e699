"""Kernel benchmarks for issue 3: ember against numpy and PyTorch, in one run.

    flock /tmp/ember-build.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py

Prints markdown tables (medians of rounds, and their ratios):
  - the FMA peak (bench/fma_peak.c, compiled here with gcc) on 1 and 2 threads;
  - GEMM GFLOP/s, float32: square 64..2048 and the MLP shapes 4096x256 @ 256x1024 and
    (4096x256)^T @ 4096x1024, on 1 and 2 threads, each as a fraction of the peak and, on
    one thread, of the FMA loop timed in the same rounds;
  - clamp(min=0), add, mul, sum on 1e6 and 1e7 float32 in GB/s, allocating a new output
    each call as users do, against a memory copy into a preallocated array;
  - the scaled training step (n=4096, 256 -> 1024 -> 10, forward + backward + SGD update)
    in ms per step; numpy runs it with hand-written gradients;
  - with --sections addmm (not in the default run): a linear layer's forward, addmm (the
    bias written into the output, the GEMM accumulating onto it) against mm followed by add;
  - with --sections math (not in the default run): exp, log, tanh, sigmoid, sin, cos, sqrt,
    reciprocal and pow on 1e6 float32, and exp, log, sigmoid, tanh, sin and cos on 1e6
    float64, ms per call;
  - with --sections reduce (not in the default run): x.sum(0) and x.sum(1) of 1000x1000,
    4096x1024 and 4096x10 float32 and 1000x1000 float64, us per call.

How it measures. The libraries take turns in one process: every section runs in a child
process per thread count with numpy, PyTorch and ember loaded together, and each of its
--inner rounds times a short batch of every library in turn for each case (the order
rotates from round to round). So the libraries compared in a round meet the same clock:
on the 2-core VM the clock moves by 10-20% between minutes, and a ratio taken between
separate processes (as this script did before) moved by as much from run to run. Each
rate (or time) printed is the median of its rounds, and each ratio the ratio of those
medians; beside the GEMM ratios, the middle half of the same ratio taken round by round
shows how far single rounds scatter (the clock also moves within a second).

On 2 threads every batch starts after --gap seconds of quiet and two untimed calls: a
library's worker threads keep spinning after its call (OpenBLAS's for ~0.1 s: ember's
2-thread 512^3 right after numpy's ran at 68 GFLOP/s with no gap, 81 after 0.03 s, 146
after 0.1 s, as after itself), and would take the second core from the library timed
next. --rounds outer rounds start fresh child processes (each with --inner
rounds). PyTorch is skipped if it is not installed.
"""

from __future__ import annotations

import argparse
import ctypes
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


class Case:
    """One row of a table: a callable per library, and how a call's seconds become the
    row's unit (GFLOP/s, GB/s or ms)."""

    def __init__(self, key, calls, value, batch=0.08):
        self.key, self.calls, self.value, self.batch = key, calls, value, batch


# ---------------------------------------------------------------- cases (in the child process)


def load_libs(threads):
    """numpy, ember and (if installed) torch, each on `threads` threads. The thread-count
    variables of every library's pool are set by the parent before this process starts."""
    import numpy as np

    import ember

    ember.set_num_threads(threads)
    mods = {"ember": ember, "numpy": np}
    try:
        import torch

        torch.set_num_threads(threads)
        mods["torch"] = torch
    except ImportError:
        pass
    return np, mods


def cases_gemm(np, mods, quick):
    rng = np.random.default_rng(0)
    shapes = {f"{n}^3": (n, n, n, False) for n in (SQUARE[:4] if quick else SQUARE)}
    shapes.update(MLP_SHAPES)
    cases = []
    for name, (m, k, n, transposed) in shapes.items():
        a = rng.standard_normal((k, m) if transposed else (m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        calls = {"numpy": lambda A=(a.T if transposed else a), b=b: A @ b}
        for lib in ("torch", "ember"):
            if lib in mods:
                L = mods[lib]
                ta, tb = L.from_numpy(a), L.from_numpy(b)
                calls[lib] = lambda A=(ta.t() if transposed else ta), B=tb, L=L: L.mm(A, B)
        flop = 2.0 * m * n * k
        cases.append(Case(name, calls, lambda s, flop=flop: flop / s / 1e9))
    return cases


def cases_elementwise(np, mods, quick):
    rng = np.random.default_rng(0)
    cases = []
    for size in ELEM_SIZES:
        x = rng.standard_normal(size).astype(np.float32)
        y = rng.standard_normal(size).astype(np.float32)
        per_lib = {}
        for lib, L in mods.items():
            dst = np.empty_like(x)  # each library copies into its own array
            if lib == "numpy":
                per_lib[lib] = {"clamp": lambda x=x: np.maximum(x, 0), "add": lambda x=x, y=y: x + y,
                                "mul": lambda x=x, y=y: x * y, "sum": lambda x=x: x.sum(),
                                "copy": lambda x=x, dst=dst: np.copyto(dst, x)}
            else:
                tx, ty, td = L.from_numpy(x), L.from_numpy(y), L.from_numpy(dst)
                per_lib[lib] = {"clamp": lambda L=L, tx=tx: L.clamp(tx, min=0), "add": lambda tx=tx, ty=ty: tx + ty,
                                "mul": lambda tx=tx, ty=ty: tx * ty, "sum": lambda tx=tx: tx.sum(),
                                "copy": lambda td=td, tx=tx: td.copy_(tx)}
        for op in ELEM_OPS:
            nbytes = BYTES_PER_ELEM[op] * size
            cases.append(Case(f"{op} {size:.0e}", {lib: ops[op] for lib, ops in per_lib.items()},
                              lambda s, nbytes=nbytes: nbytes / s / 1e9))
    return cases


def cases_mlp(np, mods, quick):
    n, d_in, d_h, d_out = 4096, 256, 1024, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    y = rng.standard_normal((n, d_out)).astype(np.float32)
    w1 = (rng.standard_normal((d_in, d_h)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((d_h, d_out)) * 0.05).astype(np.float32)
    lr = 1e-4
    sys.path.insert(0, HERE)
    from numpy_chapter import train  # the chapter's step with hand-written gradients

    calls = {}
    for lib, L in mods.items():
        # each library trains its own copy of the weights
        p1, p2 = w1.copy(), w2.copy()
        q1, q2 = np.zeros((1, d_h), np.float32), np.zeros((1, d_out), np.float32)
        if lib == "numpy":
            calls[lib] = lambda p1=p1, p2=p2, q1=q1, q2=q2: train(x, y, p1, p2, q1, q2, iterations=1,
                                                                  learning_rate=lr)
            continue
        X, Y = L.from_numpy(x), L.from_numpy(y)
        params = [L.from_numpy(v).requires_grad_() for v in (p1, p2, q1, q2)]

        def step(L=L, X=X, Y=Y, params=params):  # the chapter's step, scaled
            W1, W2, B1, B2 = params
            loss = (X.mm(W1).add(B1).clamp(min=0).mm(W2).add(B2) - Y).pow(2).mean()
            loss.backward()
            with L.no_grad():
                for p in params:
                    p.sub_(lr * p.grad)
                    p.grad.zero_()

        calls[lib] = step
    return [Case("step", calls, lambda s: s * 1e3, batch=0.3)]


ADDMM_SHAPES = {"4096x256 @ 256x1024 + b[1024]": (4096, 256, 1024), "4096x1024 @ 1024x10 + b[10]": (4096, 1024, 10)}


def cases_addmm(np, mods, quick):
    """A linear layer's forward: the product plus a bias row, fused (addmm: the bias is
    written into the output and the GEMM accumulates onto it) and as mm followed by add.
    numpy has no fused form; its figure is x @ w + b in both rows."""
    rng = np.random.default_rng(0)
    cases = []
    for name, (m, k, n) in ADDMM_SHAPES.items():
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((k, n)).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        fused = {"numpy": lambda x=x, w=w, b=b: x @ w + b}
        unfused = {"numpy": fused["numpy"]}
        for lib in ("torch", "ember"):
            if lib in mods:
                L = mods[lib]
                X, W, B = L.from_numpy(x), L.from_numpy(w), L.from_numpy(b)
                fused[lib] = lambda L=L, X=X, W=W, B=B: L.addmm(B, X, W)
                unfused[lib] = lambda X=X, W=W, B=B: X.mm(W).add(B)
        cases.append(Case(f"{name} addmm", fused, lambda s: s * 1e3))
        cases.append(Case(f"{name} mm + add", unfused, lambda s: s * 1e3))
    return cases


MATH_SIZE = 10**6
MATH_OPS = ["exp", "log", "tanh", "sigmoid", "sin", "cos", "sqrt", "reciprocal", "pow 2", "pow 3", "pow 1.5",
            "exp float64", "log float64", "sigmoid float64", "tanh float64", "sin float64", "cos float64"]


def cases_math(np, mods, quick):
    """The unary math functions and pow on 1e6 float32 (in L3), and exp, log, sigmoid, tanh,
    sin and cos on the same values as float64, new output per call, ms. log, sqrt, reciprocal and
    pow take positive inputs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(MATH_SIZE).astype(np.float32)
    xp = (np.abs(x) + 0.1).astype(np.float32)
    x64, xp64 = x.astype(np.float64), xp.astype(np.float64)
    per_lib = {}
    for lib, L in mods.items():
        if lib == "numpy":
            per_lib[lib] = {"exp": lambda: np.exp(x), "log": lambda: np.log(xp), "tanh": lambda: np.tanh(x),
                            "sigmoid": lambda: 1 / (1 + np.exp(-x)), "sin": lambda: np.sin(x),
                            "cos": lambda: np.cos(x), "sqrt": lambda: np.sqrt(xp),
                            "reciprocal": lambda: np.reciprocal(xp), "pow 2": lambda: xp**2,
                            "pow 3": lambda: xp**3, "pow 1.5": lambda: xp**1.5,
                            "exp float64": lambda: np.exp(x64), "log float64": lambda: np.log(xp64),
                            "sigmoid float64": lambda: 1 / (1 + np.exp(-x64)), "tanh float64": lambda: np.tanh(x64),
                            "sin float64": lambda: np.sin(x64), "cos float64": lambda: np.cos(x64)}
        else:
            tx, tp, t64, tp64 = L.from_numpy(x), L.from_numpy(xp), L.from_numpy(x64), L.from_numpy(xp64)
            per_lib[lib] = {"exp": tx.exp, "log": tp.log, "tanh": tx.tanh, "sigmoid": tx.sigmoid, "sin": tx.sin,
                            "cos": tx.cos, "sqrt": tp.sqrt, "reciprocal": tp.reciprocal,
                            "pow 2": lambda tp=tp: tp.pow(2), "pow 3": lambda tp=tp: tp.pow(3),
                            "pow 1.5": lambda tp=tp: tp.pow(1.5), "exp float64": t64.exp, "log float64": tp64.log,
                            "sigmoid float64": t64.sigmoid, "tanh float64": t64.tanh, "sin float64": t64.sin,
                            "cos float64": t64.cos}
    return [Case(op, {lib: ops[op] for lib, ops in per_lib.items()}, lambda s: s * 1e3) for op in MATH_OPS]


REDUCE_CASES = [((1000, 1000), "float32", 0), ((1000, 1000), "float32", 1), ((4096, 1024), "float32", 0),
                ((4096, 1024), "float32", 1), ((4096, 10), "float32", 0), ((4096, 10), "float32", 1),
                ((1000, 1000), "float64", 0), ((1000, 1000), "float64", 1)]


def reduce_key(shape, dtype, dim):
    return f"{shape[0]}x{shape[1]} {dtype} sum({dim})"


def cases_reduce(np, mods, quick):
    """Sums over one dim of a matrix (x.sum(0): column sums, as a bias's gradient; x.sum(1):
    row sums), new output per call, us. numpy sums along the same axis."""
    rng = np.random.default_rng(0)
    cases = []
    for shape, dtype, dim in REDUCE_CASES:
        x = rng.standard_normal(shape).astype(dtype)
        calls = {}
        for lib, L in mods.items():
            if lib == "numpy":
                calls[lib] = lambda x=x, dim=dim: x.sum(dim)
            else:
                t = L.from_numpy(x)
                calls[lib] = lambda t=t, dim=dim: t.sum(dim)
        cases.append(Case(reduce_key(shape, dtype, dim), calls, lambda s: s * 1e6, batch=0.04))
    return cases


SECTIONS = {"gemm": cases_gemm, "elementwise": cases_elementwise, "mlp": cases_mlp, "addmm": cases_addmm,
            "math": cases_math, "reduce": cases_reduce}


def load_fma_loop(tmpdir):
    """bench/fma_peak.c's fma_gflops(iters) (the FMA loop on the calling thread), or None
    without a C compiler."""
    so = os.path.join(tmpdir, "fma_peak.so")
    if not compile_fma_peak(so, "-shared", "-fPIC"):
        return None
    lib = ctypes.CDLL(so)
    lib.fma_gflops.restype = ctypes.c_double
    lib.fma_gflops.argtypes = [ctypes.c_long]
    return lib.fma_gflops


def run_section(section, threads, rounds, gap, quick):
    """The child's work: `rounds` rounds over the section's cases, the libraries taking
    turns. Returns {key: {lib: [one value per round]}}. With one thread the GEMM section
    also times the FMA loop (pseudo-library "fma", GFLOP/s) in every round."""
    np, mods = load_libs(threads)
    cases = SECTIONS[section](np, mods, quick)
    libs = [lib for lib in LIBS if lib in mods]
    fma = None
    if section == "gemm" and threads == 1:
        tmpdir = tempfile.mkdtemp()
        try:
            fma = load_fma_loop(tmpdir)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)  # the library stays mapped
    reps = {}

    def batch(case, lib):
        if lib == "fma":
            iters = max(1, round(case.batch * 90e9 / 192))  # 12 FMAs of 16 flop, at ~90 GFLOP/s
            return fma(iters)
        f = case.calls[lib]
        if threads > 1:
            time.sleep(gap)  # the last library's threads stop spinning
        f()
        f()
        if (case.key, lib) not in reps:  # calls per batch: about case.batch seconds
            t, calls = time.perf_counter(), 0
            while calls < 2 or time.perf_counter() - t < 0.02:
                f()
                calls += 1
            reps[(case.key, lib)] = max(1, round(case.batch * calls / (time.perf_counter() - t)))
        n = reps[(case.key, lib)]
        t = time.perf_counter()
        for _ in range(n):
            f()
        return case.value((time.perf_counter() - t) / n)

    slots = libs + (["fma"] if fma else [])
    if fma:
        for _ in range(3):
            fma(1000000)  # the clock ramps up over the first calls
    out = {case.key: {lib: [] for lib in slots} for case in cases}
    for r in range(rounds):
        order = slots[r % len(slots):] + slots[:r % len(slots)]
        for case in cases:
            for lib in order:
                out[case.key][lib].append(batch(case, lib))
    return out


# ---------------------------------------------------------------- driver


def child_env(threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "EMBER_CPU"):
        env.pop(var, None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "EMBER_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_child(section, threads, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", section, "--threads", str(threads),
           "--inner", str(args.inner), "--gap", str(args.gap)]
    if args.quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{section}/{threads} failed:\n{out.stderr}")
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
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=1):
    return "–" if x != x else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3, help="child processes per section and thread count")
    ap.add_argument("--inner", type=int, default=5, help="rounds of turns in each child process")
    ap.add_argument("--gap", type=float, default=0.15, help="seconds of quiet before each batch on 2 threads")
    ap.add_argument("--sections", default="gemm,elementwise,mlp")
    ap.add_argument("--quick", action="store_true", help="fewer sizes, for a smoke test")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(run_section(args.worker, args.threads, args.inner, args.gap, args.quick)))
        return

    sections = args.sections.split(",")
    unknown = [x for x in sections if x not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    import numpy as np

    import ember

    try:
        import torch
    except ImportError:
        torch = None
    peaks = {1: [], 2: []}
    peak_isa = "avx2"
    rounds = {}  # (section, threads) -> {key: {lib: [one value per round]}}
    for r in range(args.rounds):
        measured, peak_isa = fma_peak()
        for t, g in measured.items():
            peaks.setdefault(t, []).append(g)
        for section in sections:
            for threads in (1, 2):
                res = run_child(section, threads, args)
                dst = rounds.setdefault((section, threads), {})
                for key, per_lib in res.items():
                    for lib, vals in per_lib.items():
                        dst.setdefault(key, {}).setdefault(lib, []).extend(vals)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    info = ember.backend_info()
    n_rounds = args.rounds * args.inner
    print(f"ember kernels: {info['kernels']}; numpy {np.__version__}" +
          (f"; torch {torch.__version__}" if torch else "; torch not installed") +
          f"; {args.rounds} processes x {args.inner} rounds of turns per row"
          f"{f' ({args.gap} s of quiet before each turn on 2 threads)' if args.gap else ''}; "
          "rates and times: medians of the rounds; ratios: of those medians\n")
    peak = {t: max(v) for t, v in peaks.items() if v}
    if peak:
        print(f"| FMA peak (bench/fma_peak.c, best, {peak_isa}) | 1 thread | 2 threads |\n|---|---|---|")
        print(f"| GFLOP/s | {fmt(peak.get(1, float('nan')))} | {fmt(peak.get(2, float('nan')))} |\n")

    def series(section, threads, key, lib):
        return rounds.get((section, threads), {}).get(key, {}).get(lib, [float("nan")] * n_rounds)

    def rate(section, threads, key, lib):
        return med(series(section, threads, key, lib))

    def ratio(section, threads, key, num, dens, invert=False):
        """num's median rate over the best of dens's (rows of other keys as (key, lib)), or
        the best of dens's median times over num's with invert; and the middle half (25th
        and 75th percentile) of the same ratio taken round by round."""
        a = series(section, threads, key, num)
        ds = [series(section, threads, k, lib) for k, lib in dens]
        meds = [med(d) for d in ds if med(d) == med(d)]
        if not meds:
            return float("nan"), float("nan"), float("nan")
        whole = min(meds) / med(a) if invert else med(a) / max(meds)
        per_round = []
        for i, x in enumerate(a):
            vals = [d[i] for d in ds if i < len(d) and d[i] == d[i]]
            if vals and x == x:
                per_round.append(min(vals) / x if invert else x / max(vals))
        if len(per_round) < 4:
            return whole, float("nan"), float("nan")
        q = statistics.quantiles(per_round, n=4)
        return whole, q[0], q[2]

    libs = [lib for lib in LIBS if lib != "torch" or torch]
    others = [lib for lib in libs if lib != "ember"]
    if "gemm" in sections:
        print("| GEMM float32, GFLOP/s | threads | ember | numpy | torch | ember / best other | the same ratio round "
              "by round: middle half | ember % of peak | % of the FMA loop in the same rounds: ember (numpy, torch) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for key in rounds[("gemm", 1)]:
            for threads in (1, 2):
                e, n_, t_ = (rate("gemm", threads, key, lib) for lib in LIBS)
                q, lo, hi = ratio("gemm", threads, key, "ember", [(key, lib) for lib in others])
                pk = peak.get(threads, float("nan"))
                frac = "–"
                if threads == 1 and "fma" in rounds[("gemm", 1)][key]:
                    f = [ratio("gemm", 1, key, lib, [(key, "fma")])[0] for lib in LIBS]
                    frac = f"{fmt(100 * f[0], 0)}% ({fmt(100 * f[1], 0)}%, {fmt(100 * f[2], 0)}%)"
                print(f"| {key} | {threads} | {fmt(e)} | {fmt(n_)} | {fmt(t_)} | {fmt(q, 3)} | {fmt(lo, 2)}-"
                      f"{fmt(hi, 2)} | {fmt(100 * e / pk, 0)}% | {frac} |")
        print()
    if "elementwise" in sections:
        print("| elementwise float32, GB/s (new output per call) | threads | ember | numpy | torch | "
              "ember / torch | ember / copy |")
        print("|---|---|---|---|---|---|---|")
        for size in ELEM_SIZES:
            for threads in (1, 2):
                copies = [(f"copy {size:.0e}", lib) for lib in libs]
                for op in ELEM_OPS:
                    key = f"{op} {size:.0e}"
                    e, n_, t_ = (rate("elementwise", threads, key, lib) for lib in LIBS)
                    vs_torch = ratio("elementwise", threads, key, "ember", [(key, "torch")])[0]
                    vs_copy = ratio("elementwise", threads, key, "ember", copies)[0]
                    print(f"| {key}{' (into preallocated)' if op == 'copy' else ''} | {threads} | {fmt(e)} | "
                          f"{fmt(n_)} | {fmt(t_)} | {fmt(vs_torch, 2)} | {fmt(vs_copy, 2)} |")
        print()
    if "addmm" in sections:
        print("| linear layer forward float32, ms | threads | ember | numpy (x @ w + b) | torch | torch / ember |")
        print("|---|---|---|---|---|---|")
        for key in rounds[("addmm", 1)]:
            for threads in (1, 2):
                e, n_, t_ = (rate("addmm", threads, key, lib) for lib in LIBS)
                vs = ratio("addmm", threads, key, "ember", [(key, "torch")], invert=True)[0]
                print(f"| {key} | {threads} | {fmt(e, 2)} | {fmt(n_, 2)} | {fmt(t_, 2)} | {fmt(vs, 2)} |")
        print()
    def times_table(section, title, keys, digits, numpy_col="numpy"):
        """Per-call times (medians) of ember, numpy and torch, and torch's and numpy's over
        ember's, for each key on 1 and 2 threads."""
        print(f"| {title} | threads | ember | {numpy_col} | torch | torch / ember | numpy / ember |")
        print("|---|---|---|---|---|---|---|")
        for key in keys:
            for threads in (1, 2):
                e, n_, t_ = (rate(section, threads, key, lib) for lib in LIBS)
                vt = ratio(section, threads, key, "ember", [(key, "torch")], invert=True)[0]
                vn = ratio(section, threads, key, "ember", [(key, "numpy")], invert=True)[0]
                print(f"| {key} | {threads} | {fmt(e, digits)} | {fmt(n_, digits)} | {fmt(t_, digits)} | "
                      f"{fmt(vt, 2)} | {fmt(vn, 2)} |")
        print()

    if "math" in sections:
        times_table("math", f"unary math, float32 unless named, {MATH_SIZE:.0e} elements, ms (new output per call)",
                    MATH_OPS, 3)
    if "reduce" in sections:
        times_table("reduce", "sum over one dim, us (new output per call)",
                    [reduce_key(*case) for case in REDUCE_CASES], 1)
    if "mlp" in sections:
        times_table("mlp", "training step n=4096, 256->1024->10, ms", ["step"], 1, "numpy (hand gradients)")

if __name__ == "__main__":
    main()

"""GEMM float32 on one thread: ember, numpy and PyTorch in one process, calls interleaved.

    python bench/gemm_interleaved.py [--rounds 15]

bench/run.py runs each library in its own child process, seconds apart. On the 2-core VM
the clock moves by up to ~10% between those processes, so a single run's 1-thread ratio
can be off by ~8% (bench/RESULTS.md has two runs of one binary at 0.91-0.95 and 0.99-1.09).
Here every round times a short batch of each library in turn (the order rotates), so the
three see the same clock, and the ratio reported is the median of the per-round ratios
ember / max(numpy, torch).

Each round also runs bench/fma_peak.c's FMA loop (built as a shared library, called through
ctypes) for as long as one library's batch, and each library's rate is divided by the FMA
loop's rate of the same round: the fraction of the peak under the conditions the GEMM met.
On the VM the FMA loop alone moves by ~10% from one millisecond to the next (another
tenant on the core), so a best-of-runs peak and a median GEMM rate do not meet the same
machine.

With two threads, a library's idle worker threads keep spinning after its call (OpenBLAS's,
OpenMP's and ember's do) and would take the second core from the library timed next. So
`--threads 2` compares ember with torch only, and sleeps --gap seconds (default 0.03) before
each library's batch, longer than libgomp's and ember's spinning (about a millisecond),
then makes two untimed calls to wake its pool. numpy is left out: OpenBLAS's threads spin
for far longer after a call. No FMA loop there (it runs on one thread).

    python bench/gemm_interleaved.py --threads 2 [--rounds 15]
"""

import argparse
import ctypes
import os
import shutil
import statistics
import sys
import tempfile
import time

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--rounds", type=int, default=15)
ap.add_argument("--batch", type=float, default=0.08, help="seconds per library per round (approximate)")
ap.add_argument("--threads", type=int, default=1, choices=(1, 2))
ap.add_argument("--gap", type=float, default=0.03, help="with --threads 2: seconds of quiet before each batch")
ARGS = ap.parse_args()

# Before numpy / torch load: the thread count of every library's pool.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "EMBER_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "EMBER_CPU"):
    os.environ.pop(var, None)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# bench/run.py's shapes (name -> (m, k, n, A transposed)) and its fma_peak.c build
from run import MLP_SHAPES, compile_fma_peak  # noqa: E402

# The target range of bench/run.py's squares, then its MLP shapes.
SHAPES = {f"{s}^3": (s, s, s, False) for s in (256, 512, 1024, 2048)}
SHAPES.update(MLP_SHAPES)


def load_fma_loop(tmpdir):
    """bench/fma_peak.c's fma_gflops(iters), or None without a C compiler."""
    so = os.path.join(tmpdir, "fma_peak.so")
    if not compile_fma_peak(so, "-shared", "-fPIC"):
        return None
    lib = ctypes.CDLL(so)
    lib.fma_gflops.restype = ctypes.c_double
    lib.fma_gflops.argtypes = [ctypes.c_long]
    return lib.fma_gflops


def main():
    args = ARGS
    import ember

    ember.set_num_threads(args.threads)
    libs = ["ember", "numpy"] if args.threads == 1 else ["ember"]
    try:
        import torch

        torch.set_num_threads(args.threads)
        libs.append("torch")
    except ImportError:
        torch = None
    others = [lib for lib in libs if lib != "ember"]
    if not others:
        sys.exit("--threads 2 compares ember with torch, which is not installed")
    fma = None
    if args.threads == 1:
        tmpdir = tempfile.mkdtemp()
        try:
            fma = load_fma_loop(tmpdir)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)  # the library stays mapped
    # The FMA loop's iterations per batch (12 FMAs of 16 flop each), at ~90 GFLOP/s.
    fma_iters = max(1, round(args.batch * 90e9 / 192))
    if fma:
        for _ in range(3):
            fma(fma_iters)  # the clock ramps up over the first calls

    rng = np.random.default_rng(0)
    threads = f"{args.threads} thread" + ("s" if args.threads > 1 else "")
    print(f"GEMM float32, {threads}, {args.rounds} interleaved rounds; python {sys.version.split()[0]}, "
          f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else "") +
          (f"; {args.gap} s of quiet before each batch" if args.threads > 1 else "") + "\n")
    frac_cols = [f"{lib} / FMA loop" for lib in libs] if fma else []
    print(f"| GEMM float32, {threads} | " + " | ".join(f"{lib} GFLOP/s" for lib in libs) +
          " | ratio (median of rounds) | lowest / highest round | " +
          "".join(f"{c} | " for c in frac_cols) + ("FMA loop GFLOP/s |" if fma else ""))
    print("|---|" + "---|" * (len(libs) + 2 + (len(libs) + 1 if fma else 0)))
    for name, (m, k, n, transposed) in SHAPES.items():
        a = rng.standard_normal((k, m) if transposed else (m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        ea, eb = ember.from_numpy(a), ember.from_numpy(b)
        ae = ea.t() if transposed else ea
        an = a.T if transposed else a
        calls = {"ember": lambda: ember.mm(ae, eb), "numpy": lambda: an @ b}
        if torch:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            at = ta.t() if transposed else ta
            calls["torch"] = lambda: torch.mm(at, tb)
        flop = 2.0 * m * n * k
        reps = max(1, round(args.batch * 35e9 / flop))
        for f in calls.values():
            f()
            f()
        rates = {lib: [] for lib in libs}
        fracs = {lib: [] for lib in libs}
        peaks = []
        ratios = []
        slots = libs + (["fma"] if fma else [])
        for r in range(args.rounds):
            order = slots[r % len(slots):] + slots[:r % len(slots)]
            now = {}
            for lib in order:
                if lib == "fma":
                    now[lib] = fma(fma_iters)
                    continue
                f = calls[lib]
                if args.threads > 1:
                    time.sleep(args.gap)  # the other library's spinning threads go to sleep
                    f()
                    f()
                t = time.perf_counter()
                for _ in range(reps):
                    f()
                now[lib] = flop * reps / (time.perf_counter() - t) / 1e9
                rates[lib].append(now[lib])
            ratios.append(now["ember"] / max(now[o] for o in others))
            if fma:
                peaks.append(now["fma"])
                for lib in libs:
                    fracs[lib].append(now[lib] / now["fma"])
        cells = " | ".join(f"{statistics.median(rates[lib]):.1f}" for lib in libs)
        extra = ""
        if fma:
            extra = "".join(f" {100 * statistics.median(fracs[lib]):.0f}% |" for lib in libs)
            extra += f" {statistics.median(peaks):.1f} |"
        print(f"| {name} | {cells} | {statistics.median(ratios):.3f} | {min(ratios):.2f} / {max(ratios):.2f} |" + extra,
              flush=True)


if __name__ == "__main__":
    main()

"""Per-call overhead on tiny tensors: ember vs PyTorch vs numpy, in one run.

Each case is one statement timed with timeit on 2x2 float32 tensors (or 0-dim scalars
for the graph case). Libraries are interleaved within every repeat, so drift in the
machine's load hits all three alike; the table shows medians over repeats (ns per call)
and ember's time relative to the others. One thread everywhere.

    python bench/overhead.py            # markdown table
    python bench/overhead.py --repeats 31 --target-ms 20
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "EMBER_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics
import timeit

import ember
import numpy as np

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the table then has no PyTorch column
    torch = None


def _setup(lib, requires_grad=False):
    """2x2 float32 operands a, b, c (c for in-place ops) in the given library."""
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((2, 2)).astype(np.float32)
    b_np = rng.standard_normal((2, 2)).astype(np.float32)
    if lib is np:
        return {"np": np, "a": a_np, "b": b_np, "c": a_np.copy()}
    a = lib.tensor(a_np.tolist(), requires_grad=requires_grad)
    b = lib.tensor(b_np.tolist(), requires_grad=requires_grad)
    c = lib.tensor(a_np.tolist())
    return {"a": a, "b": b, "c": c}


def _graph_setup(lib):
    """Two 0-dim float32 leaves that require grad, for the 5-node graph."""
    return {"x": lib.tensor(0.5, requires_grad=True), "y": lib.tensor(-1.5, requires_grad=True)}


# A 5-node graph on scalars: MulBackward0, AddBackward0, TanhBackward0, MulBackward0,
# SubBackward0 (plus two AccumulateGrad), built and run backward.
GRAPH = "((x * y + x).tanh() * y - x).backward()"
# numpy's hand-derived gradient of the same function on 0-d float32 arrays: the floor.
GRAPH_NP = (
    "u = x * y + x; t = np.tanh(u); dt = y * (1 - t * t); "
    "gx = dt * (y + 1) - 1; gy = t + dt * x"
)

# (label, ember/torch statement, numpy statement, requires_grad, setup)
CASES = [
    ("`a + b`, 2x2, no grad", "a + b", "a + b", False, _setup),
    ("`a + b`, 2x2, requires_grad", "a + b", "a + b", True, _setup),
    ("`a.mm(b)`, 2x2", "a.mm(b)", "a @ b", False, _setup),
    ("`a.sum()`, 2x2", "a.sum()", "a.sum()", False, _setup),
    ("`a.clamp(min=0)`, 2x2", "a.clamp(min=0)", "np.maximum(a, 0)", False, _setup),
    ("`c.add_(b)`, 2x2", "c.add_(b)", "np.add(c, b, out=c)", False, _setup),
    ("5-node scalar graph, forward + backward()", GRAPH, GRAPH_NP, None, _graph_setup),
]


def _globals(lib, setup, requires_grad):
    if setup is _graph_setup:
        if lib is np:
            return {"np": np, "x": np.array(0.5, np.float32), "y": np.array(-1.5, np.float32)}
        return setup(lib)
    return setup(lib, requires_grad)


def _timer(stmt, g):
    return timeit.Timer(stmt, globals=g)


def _calibrate(timer, target_ms):
    number = 1
    while True:
        t = timer.timeit(number)
        if t * 1e3 >= target_ms / 4 or number >= 1 << 22:
            return max(1, int(number * target_ms / 1e3 / max(t, 1e-9)))
        number *= 4


def measure(repeats, target_ms):
    libs = [("ember", ember)] + ([("torch", torch)] if torch else []) + [("numpy", np)]
    rows = []
    for label, stmt, np_stmt, rg, setup in CASES:
        timers, numbers = {}, {}
        for name, lib in libs:
            s = np_stmt if lib is np else stmt
            timers[name] = _timer(s, _globals(lib, setup, rg))
            timers[name].timeit(100)  # warm up
            numbers[name] = _calibrate(timers[name], target_ms)
        samples = {name: [] for name, _ in libs}
        for _ in range(repeats):
            for name, _ in libs:
                samples[name].append(timers[name].timeit(numbers[name]) / numbers[name] * 1e9)
        rows.append((label, {k: statistics.median(v) for k, v in samples.items()}))
    return rows


def table(rows):
    has_torch = torch is not None
    head = "| case | ember ns | " + ("torch ns | " if has_torch else "") + "numpy ns | "
    head += ("torch / ember | " if has_torch else "") + "ember / numpy |"
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for label, m in rows:
        cells = [label, f"{m['ember']:.0f}"]
        if has_torch:
            cells.append(f"{m['torch']:.0f}")
        cells.append(f"{m['numpy']:.0f}")
        if has_torch:
            cells.append(f"{m['torch'] / m['ember']:.1f}x")
        cells.append(f"{m['ember'] / m['numpy']:.2f}")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--target-ms", type=float, default=10.0, help="time per repeat and library")
    args = p.parse_args()
    rows = measure(args.repeats, args.target_ms)
    print(f"ember {ember.__version__ if hasattr(ember, '__version__') else ''}".strip(), end="; ")
    print(f"torch {torch.__version__}" if torch else "no torch", end="; ")
    print(f"numpy {np.__version__}; one thread; medians of {args.repeats} repeats\n")
    print(table(rows))
    print(
        "\nnumpy column: the same statement in numpy (the graph row: its hand-derived "
        "gradient, no autograd). ember / numpy < 1 means ember is faster."
    )


if __name__ == "__main__":
    main()

"""The chapter's training loop: ember vs PyTorch vs numpy (hand gradients), one thread.

Each library runs in its own child process (started with OMP/OPENBLAS/MKL/EMBER thread
counts at 1; PyTorch also gets torch.set_num_threads(1)), from the same data, generated
once here. The parent asks the children for one 200-iteration run at a time, in turn,
so the three share the machine's noise; it reports medians over rounds and the ratios.

The ember and PyTorch loops run bench/chapter_step.py (examples/train_mlp.py's step without printing); the
numpy loop is bench/numpy_chapter.py.

    python bench/chapter_loop.py              # 21 rounds
    python bench/chapter_loop.py --rounds 41
    python bench/chapter_loop.py --libs ember,ember-nosites   # cost of creation sites
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------------------ child side


def _child(lib: str, path: str) -> None:
    data = np.load(path)
    if lib == "numpy":
        sys.path.insert(0, HERE)
        from numpy_chapter import train

        def run():
            w = {k: data[k].copy() for k in ("w1", "w2", "b1", "b2")}
            t0 = time.perf_counter()
            loss = train(data["x"], data["y"], w["w1"], w["w2"], w["b1"], w["b2"])
            return time.perf_counter() - t0, loss

    else:
        if lib == "torch":
            import torch

            torch.set_num_threads(1)
        else:
            import ember as torch

            if lib == "ember-nosites":  # what recording creation sites costs
                torch._C._set_record_sites(False)
        sys.path.insert(0, HERE)
        from chapter_step import step

        def run():
            x, y = torch.tensor(data["x"]), torch.tensor(data["y"])
            w1 = torch.tensor(data["w1"], requires_grad=True)
            w2 = torch.tensor(data["w2"], requires_grad=True)
            b1 = torch.tensor(data["b1"], requires_grad=True)
            b2 = torch.tensor(data["b2"], requires_grad=True)
            t0 = time.perf_counter()
            for _ in range(200):  # examples/train_mlp.py's loop, without printing
                loss = step(torch, x, y, w1, w2, b1, b2)
            return time.perf_counter() - t0, loss.item()

    run()  # warm up
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        dt, loss = run()
        print(f"{dt!r} {loss!r}", flush=True)


# ------------------------------------------------------------------ parent side


def _data(path: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3)).astype(np.float32)
    noise = rng.standard_normal((100, 1)).astype(np.float32)
    y = (x[:, :1] * 0.2 - x[:, 1:2] * 1.3 - x[:, 2:3] * 0.5 + noise).astype(np.float32)
    np.savez(
        path,
        x=x,
        y=y,
        w1=rng.standard_normal((3, 32)).astype(np.float32),
        w2=rng.standard_normal((32, 1)).astype(np.float32),
        b1=np.zeros((1, 32), np.float32),
        b2=np.zeros((1, 1), np.float32),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=21)
    p.add_argument("--libs", default="ember,torch,numpy")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(*args.child)
        return
    import tempfile

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "EMBER_NUM_THREADS"):
        env[var] = "1"
    libs = args.libs.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        _data(path)
        procs = {}
        for lib in libs:
            procs[lib] = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--child", lib, path],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            )
            assert procs[lib].stdout.readline().strip() == "ready", lib
        times = {lib: [] for lib in libs}
        losses = {}
        for _ in range(args.rounds):
            for lib in libs:
                procs[lib].stdin.write("run\n")
                procs[lib].stdin.flush()
                dt, loss = procs[lib].stdout.readline().split()
                times[lib].append(float(dt) * 1e3)
                losses[lib] = float(loss)
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    med = {lib: statistics.median(v) for lib, v in times.items()}
    print(f"chapter loop, 200 iterations, one thread, medians of {args.rounds} interleaved rounds\n")
    print("| library | ms / 200 iterations | us / iteration | min ms | final loss |")
    print("|---|---|---|---|---|")
    for lib in libs:
        print(f"| {lib} | {med[lib]:.2f} | {med[lib] * 5:.1f} | {min(times[lib]):.2f} | {losses[lib]:.4f} |")
    if "ember" in med:
        print()
        if "torch" in med:
            print(f"torch / ember: {med['torch'] / med['ember']:.2f}x (target >= 5)")
        if "numpy" in med:
            print(f"ember / numpy: {med['ember'] / med['numpy']:.2f} (target <= 1)")
        if "ember-nosites" in med:
            cost = med["ember"] / med["ember-nosites"] - 1
            print(f"creation-site recording: {cost * 100:+.1f}% of the loop's time (target < 5%)")


if __name__ == "__main__":
    main()

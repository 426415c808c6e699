"""Leak check: the chapter's loop for 10^5 iterations keeps memory flat.

Runs examples/train_mlp.py's loop (without printing) and samples the process's resident
set size (VmRSS from /proc/self/status). Passes when RSS after all iterations is within
5% of RSS after the first 1000 (by then the allocator and the graph's buffers have
reached their steady state). Exit status 0 on pass, 1 on growth.

    python bench/leak_check.py                    # 100000 iterations (~10 s)
    python bench/leak_check.py --iterations 20000
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "EMBER_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import ember as torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chapter_step import step


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=100_000)
    p.add_argument("--baseline", type=int, default=1000, help="iterations before the reference RSS")
    p.add_argument("--tolerance", type=float, default=0.05)
    args = p.parse_args()

    torch.manual_seed(0)
    x = torch.randn(100, 3)
    y = (x[:, 0] * 0.2 - x[..., 1] * 1.3 - x[..., 2] * 0.5 + torch.randn(100)).unsqueeze(dim=1)
    w1 = torch.randn(3, 32, requires_grad=True)
    w2 = torch.randn(32, 1, requires_grad=True)
    b1 = torch.zeros(1, 32, requires_grad=True)
    b2 = torch.zeros(1, 1, requires_grad=True)
    samples = []
    for t in range(1, args.iterations + 1):
        step(torch, x, y, w1, w2, b1, b2)
        if t == args.baseline or t % (args.iterations // 10) == 0:
            samples.append((t, rss_kib()))

    base = dict(samples)[args.baseline]
    end = samples[-1][1]
    growth = (end - base) / base
    print("iteration  RSS KiB")
    for t, r in samples:
        print(f"{t:9d}  {r}")
    verdict = "PASS" if growth <= args.tolerance else "FAIL"
    print(f"\nRSS after {args.baseline}: {base} KiB; after {args.iterations}: {end} KiB; "
          f"growth {growth * 100:+.2f}% (limit {args.tolerance * 100:.0f}%): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

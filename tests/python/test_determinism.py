"""Determinism: the same program gives bitwise-identical losses, gradients and weights
run after run and for any thread count.

Each run is a fresh process (EMBER_NUM_THREADS set before import) that trains the chapter's
network and the scaled one (n=4096, 256 -> 1024 -> 10: large enough that matmul, the
bias-gradient column sums and the elementwise kernels split work across the pool), and
prints a digest of every loss, gradient and final weight, plus a few raw values so a
mismatch is readable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import hashlib, sys
    import ember as torch

    digest = hashlib.sha256()

    def record(t):
        digest.update(t.detach().contiguous().numpy().tobytes())

    def train(n, d_in, d_hidden, d_out, steps, lr):
        torch.manual_seed(0)
        x = torch.randn(n, d_in)
        y = torch.randn(n, d_out)
        w1 = torch.randn(d_in, d_hidden, requires_grad=True)
        w2 = torch.randn(d_hidden, d_out, requires_grad=True)
        b1 = torch.zeros(1, d_hidden, requires_grad=True)
        b2 = torch.zeros(1, d_out, requires_grad=True)
        for _ in range(steps):
            y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
            loss = (y_pred - y).pow(2).mean()
            loss.backward()
            record(loss)
            with torch.no_grad():
                for p in (w1, w2, b1, b2):
                    record(p.grad)
                    p.sub_(lr * p.grad)
                    p.grad.zero_()
        for p in (w1, w2, b1, b2):
            record(p)
        return loss.item(), w1[0, :3].tolist()

    chapter = train(100, 3, 32, 1, 200, 1e-4)
    scaled = train(4096, 256, 1024, 10, 4, 1e-6)
    print(torch.get_num_threads(), digest.hexdigest(), repr(chapter), repr(scaled))
    """
)


def run(threads: int) -> tuple[str, str]:
    env = dict(os.environ, EMBER_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True,
                         timeout=300)
    n, digest, rest = out.stdout.split(" ", 2)
    assert int(n) == threads
    return digest, rest.strip()


@pytest.fixture(scope="module")
def runs():
    return {threads: [run(threads), run(threads)] for threads in (1, 2)}


def test_same_program_same_bits_run_after_run(runs):
    for threads, (a, b) in runs.items():
        assert a == b, f"two runs on {threads} thread(s) differ"


def test_same_bits_for_any_thread_count(runs):
    assert runs[1][0] == runs[2][0], "1 thread and 2 threads give different bits"

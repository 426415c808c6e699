"""Threads: what ember guarantees, which is what PyTorch guarantees on the CPU.

- Independent work in several Python threads gives bitwise the results it gives run one
  after the other (kernels choose their task split from the problem, never from which
  threads are free: a thread that finds the pool busy runs its kernel serially, with the
  same sums in the same order).
- Grad mode (no_grad, enable_grad, set_grad_enabled, inference_mode) is per thread.
- Long kernels and backward run with the GIL released, so threads really overlap.
- Many threads hammering small ops, backward, the caching allocator (tensors >= 256 KiB),
  the thread pool and the random generator (one mutex-guarded stream, as PyTorch's: each
  call takes a contiguous run of it) neither crash nor corrupt results.
- Backward passes on several threads into the same leaf lose no contribution (each leaf's
  accumulation is locked, as PyTorch's AccumulateGrad is); the sum of float contributions
  may then be added in a different order, as in PyTorch.

Not guaranteed, as in PyTorch: assigning a leaf's .grad while another thread's backward
accumulates into it."""

import threading

import numpy as np
import pytest

import ember


def run_threads(fns):
    """Runs every fn in its own thread, started together; re-raises the first error."""
    errors, results = [], [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def body(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=body, args=(i, f)) for i, f in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return results


def chapter_loop(seed, n=100, d_in=3, hidden=32, steps=60, lr=1e-4):
    """The chapter's MLP training loop; its data drawn up front (the generator is shared)."""
    ember.manual_seed(seed)
    x = ember.randn(n, d_in)
    y = ember.randn(n, 1)
    w1 = ember.randn(d_in, hidden, requires_grad=True)
    w2 = ember.randn(hidden, 1, requires_grad=True)
    b1 = ember.zeros(1, hidden, requires_grad=True)
    b2 = ember.zeros(1, 1, requires_grad=True)

    def run():
        losses = []
        for _ in range(steps):
            y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
            loss = (y_pred - y).pow(2).mean()
            loss.backward()
            with ember.no_grad():
                for p in (w1, w2, b1, b2):
                    p.sub_(lr * p.grad)
                    p.grad.zero_()
            losses.append(loss.item())
        return losses, [p.detach().numpy().copy() for p in (w1, w2, b1, b2)]

    return run


@pytest.mark.parametrize(
    "size",
    [
        dict(),  # the chapter's sizes: every op under the GIL, threads interleave op by op
        dict(n=512, d_in=256, hidden=256, steps=8),  # large ops: no GIL, the pool contended
    ],
    ids=["chapter", "large"],
)
def test_two_training_loops_at_once_match_one_after_the_other(size):
    seq = [chapter_loop(s, **size)() for s in (1, 2)]
    par = run_threads([chapter_loop(s, **size) for s in (1, 2)])
    for (l_seq, p_seq), (l_par, p_par) in zip(seq, par):
        assert l_seq == l_par  # bitwise: float equality, not closeness
        for a, b in zip(p_seq, p_par):
            np.testing.assert_array_equal(a, b)


def test_grad_mode_is_per_thread():
    inside, go_on, done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def other():
        with ember.no_grad():
            inside.set()
            go_on.wait(10)
            x = ember.ones(2, requires_grad=True)
            seen["no_grad"] = (ember.is_grad_enabled(), (x * 2).requires_grad)
        with ember.inference_mode():
            seen["inference"] = ember.is_grad_enabled()
        ember.set_grad_enabled(False)  # not as a context manager: stays off in this thread only
        done.set()

    t = threading.Thread(target=other)
    t.start()
    assert inside.wait(10)
    # the other thread is inside no_grad: this one still records graphs
    x = ember.ones(2, requires_grad=True)
    assert ember.is_grad_enabled()
    assert (x * 2).grad_fn.name() == "MulBackward0"
    with ember.no_grad():
        go_on.set()
        assert done.wait(10)
    t.join()
    assert ember.is_grad_enabled()
    assert seen == {"no_grad": (False, False), "inference": False}
    # a fresh thread starts with grad mode on, whatever others did
    assert run_threads([ember.is_grad_enabled]) == [True]


def kernel_progress_seen(op):
    """Runs op() in another thread while this one watches the work counter the kernels
    update (ember._C._interrupt_stats). Reading it needs the GIL, so seeing it strictly
    between its start and end values several times means this thread ran Python while
    the kernel ran: the GIL was released. No clock involved."""
    ember._C._interrupt_reset_stats()
    done = threading.Event()
    started = threading.Event()

    def worker():
        started.set()
        op()
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    started.wait()
    values = set()
    while not done.is_set():
        values.add(ember._C._interrupt_stats()[0])
    t.join()
    final = ember._C._interrupt_stats()[0]
    return {v for v in values if 0 < v < final}


@pytest.fixture(scope="module")
def mats():
    # 2048^3 products: with the AVX-512 kernels on the Zen 5 machine, backward's two 1024^3
    # ones ended within two polls of the work counter.
    ember.manual_seed(3)
    return ember.randn(2048, 2048), ember.randn(2048, 2048)


@pytest.mark.parametrize("which", ["mm", "sum", "exp", "backward"])
def test_long_kernels_and_backward_release_the_gil(mats, which):
    a, b = mats
    w = b.detach().requires_grad_()
    loss = a.mm(w).sum()
    big = ember.ones(1, 1).expand(20_000, 20_000)  # 4e8 elements without the memory
    wide = ember.ones(4096, 4096)  # 16 polls of the work counter
    # One call each: between calls the worker runs Python, and the counter could then be
    # seen mid-way even if the kernels held the GIL.
    ops = {
        "mm": lambda: a.mm(b),
        "sum": lambda: big.sum(),
        "exp": lambda: wide.exp(),
        "backward": lambda: loss.backward(),
    }
    assert len(kernel_progress_seen(ops[which])) >= 3


def test_many_threads_hammering_small_ops_and_backward():
    """8 threads, each its own leaves: small graphs (under the GIL), 300x300 ones (the
    allocator's cache, no GIL), random draws, all at once; each thread's values equal its
    own values run alone."""

    def work(seed):
        rng = np.random.default_rng(seed)
        small = ember.tensor(rng.standard_normal((4, 3)), requires_grad=True)
        large = ember.tensor(rng.standard_normal((300, 300)).astype(np.float32), requires_grad=True)
        out = []
        for i in range(25):
            y = (small * small).sum(dim=1).tanh().mean() + small.sigmoid().max()
            y.backward()
            z = large.mm(large.t()).relu().sum() * 1e-4 + (large * 2).tanh().sum()
            z.backward()
            r = ember.randn(64)  # only checked to be well formed here: the order of draws is not fixed
            assert r.shape == (64,) and bool((r == r).sum() == 64)
            with ember.no_grad():
                small.sub_(small.grad * 0.01)
                large.sub_(large.grad * 1e-3)
            small.grad = None
            large.grad = None
            out.append((y.item(), z.item()))
        return out, small.detach().numpy().copy(), large.detach().numpy().copy()

    alone = [work(s) for s in range(8)]
    together = run_threads([lambda s=s: work(s) for s in range(8)])
    for (o1, s1, l1), (o2, s2, l2) in zip(alone, together):
        assert o1 == o2
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(l1, l2)


def test_random_draws_from_threads_are_runs_of_one_stream():
    """As in PyTorch, the default generator is shared and locked per call: draws made from
    several threads are each a contiguous run of the seeded stream, in some order."""
    ember.manual_seed(7)
    sequential = [tuple(ember.randn(256).tolist()) for _ in range(64)]
    ember.manual_seed(7)
    drawn = run_threads([lambda: [tuple(ember.randn(256).tolist()) for _ in range(16)] for _ in range(4)])
    assert sorted(sum(drawn, [])) == sorted(sequential)


def test_thread_count_changes_under_load_keep_results():
    """set_num_threads while other threads multiply: results do not depend on the count."""
    ember.manual_seed(5)
    a, b = ember.randn(400, 300), ember.randn(300, 500)
    want = a.mm(b).numpy()
    before = ember.get_num_threads()

    def mul():
        for _ in range(10):
            np.testing.assert_array_equal(a.mm(b).numpy(), want)

    def flip():
        for i in range(50):
            ember.set_num_threads(1 + i % 2)

    try:
        run_threads([mul, mul, flip])
    finally:
        ember.set_num_threads(before)


def test_concurrent_backward_into_a_shared_leaf_loses_nothing():
    # Integer-valued float64 contributions: any order of addition gives the exact total.
    w = ember.ones(64, dtype=ember.float64, requires_grad=True)
    n_threads, n_iters = 4, 1000

    def body():
        x = ember.full((64,), 2.0, dtype=ember.float64)
        for _ in range(n_iters):
            (x * w).sum().backward()

    run_threads([body] * n_threads)
    assert w.grad.tolist() == [2.0 * n_threads * n_iters] * 64


def test_concurrent_forward_creates_one_accumulator_per_leaf():
    # Threads building graphs on the same leaf at once must share its AccumulateGrad.
    w = ember.ones(3, requires_grad=True)
    nodes = [None] * 4

    def make(i):
        def body():
            for _ in range(200):
                y = w * 2
            nodes[i] = y.grad_fn.next_functions[0][0]
            return y
        return body

    outs = run_threads([make(i) for i in range(4)])
    assert all(n.variable is w for n in nodes)
    # each thread's last graph is alive, so the cache must have handed all of them one node
    assert len({n._sequence_nr for n in nodes}) == 1
    sum(o.sum() for o in outs).backward()
    assert w.grad.tolist() == [8.0, 8.0, 8.0]

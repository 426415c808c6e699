// The thread pool: one process-wide pool that the large kernels (GEMM, long elementwise
// runs, long sums) use to spread work over the cores.
//
// parallel_for(n, f) runs f(i) for every task index i in [0, n) and returns when all are
// done; the calling thread takes tasks too, so a pool of T threads has T-1 workers.
// Tasks are handed out dynamically (an atomic counter), so a core slowed by a noisy
// neighbour simply takes fewer of them. Callers must make each task's result independent
// of which thread runs it, and choose the task split from the problem, not from the
// thread count, wherever the split changes rounding (sums): results then do not depend on
// set_num_threads. A parallel_for issued from inside a task, or while another thread is
// using the pool, runs serially on the calling thread.
//
// A task that throws cancels its job: tasks not yet started are skipped, running tasks
// see job_cancelled() (interrupt::poll checks it at block boundaries), and the first
// exception is rethrown on the calling thread once every helper has left the job.
//
// Small work must not wake the pool: callers compare their work with a threshold first.
#pragma once

#include <cstdint>
#include <type_traits>

namespace ember::parallel {

// Threads used by parallel_for (>= 1). Defaults to EMBER_NUM_THREADS, else
// OMP_NUM_THREADS, else the number of CPUs this process may run on.
int get_num_threads();
// Sets the thread count (n >= 1); idle workers beyond it stay asleep.
void set_num_threads(int n);
// True inside a parallel_for task.
bool in_parallel_region();
// True on the pool's own worker threads.
bool is_worker_thread();
// True inside a task of a job that a failed (or interrupted) task has cancelled.
bool job_cancelled();

// Type-erased form of parallel_for: fn(ctx, i) for i in [0, n).
void parallel_for_raw(int64_t n, void (*fn)(void* ctx, int64_t i), void* ctx);

template <typename F>
void parallel_for(int64_t n, F&& f) {
  if (n <= 0) return;
  if (n == 1) {
    f(int64_t{0});
    return;
  }
  using Fn = std::remove_reference_t<F>;
  parallel_for_raw(n, [](void* c, int64_t i) { (*static_cast<Fn*>(c))(i); }, &f);
}

}  // namespace ember::parallel

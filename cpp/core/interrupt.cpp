#include "core/interrupt.h"

#include <atomic>
#include <chrono>

#include "core/parallel.h"

namespace ember::interrupt {
namespace detail {
thread_local int64_t t_pending = 0;
}  // namespace detail

namespace {
std::atomic<Handler> g_handler{nullptr};
std::atomic<int64_t> g_work{0}, g_calls{0};
std::atomic<int64_t> g_generation{0};  // bumped by set_handler: a new handler is called at once
thread_local int64_t t_generation = 0;
thread_local int t_disabled = 0;
thread_local int64_t t_last_ns = 0;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void set_handler(Handler h) {
  g_handler.store(h, std::memory_order_release);
  g_generation.fetch_add(1, std::memory_order_relaxed);
}

void check() {
  if (t_disabled || parallel::is_worker_thread()) return;
  Handler h = g_handler.load(std::memory_order_acquire);
  if (!h) return;
  const int64_t now = now_ns(), gen = g_generation.load(std::memory_order_relaxed);
  if (now - t_last_ns < kIntervalNs && gen == t_generation) return;
  t_last_ns = now;
  t_generation = gen;
  g_calls.fetch_add(1, std::memory_order_relaxed);
  if (h()) throw Interrupted();
}

void detail::poll_slow() {
  g_work.fetch_add(t_pending, std::memory_order_relaxed);
  t_pending = 0;
  // Another task of this job failed or was interrupted: stop at this block boundary.
  if (parallel::job_cancelled()) throw Interrupted();
  check();
}

NoInterrupt::NoInterrupt() { ++t_disabled; }
NoInterrupt::~NoInterrupt() { --t_disabled; }

Stats stats() { return {g_work.load(std::memory_order_relaxed), g_calls.load(std::memory_order_relaxed)}; }
void reset_stats() {
  g_work.store(0, std::memory_order_relaxed);
  g_calls.store(0, std::memory_order_relaxed);
}

}  // namespace ember::interrupt

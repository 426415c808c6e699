// Interrupts: how a long kernel learns that the user pressed Ctrl-C, without the core
// knowing about Python.
//
// The embedding (python/src/, which holds the only Python-aware code) installs a handler
// with set_handler(). Long kernels call poll(work) between blocks (GEMM block steps,
// elementwise chunks, rows of reductions), saying how much work (elements or
// multiply-adds) they have done since the last poll. poll() only adds to a thread-local
// counter; once per kPollWork units it reads the clock, and at most once per kInterval
// it calls the handler. So a poll costs a few instructions and the handler a few hundred
// nanoseconds every 20 ms: nothing measurable.
//
// A handler that returns true asks the running op to stop: poll() throws Interrupted,
// which unwinds the op like any error (outputs are freed, operands untouched). In the
// thread pool the task that throws cancels its job: tasks not yet started are skipped,
// and poll() in the helpers' running tasks throws too, so every thread leaves at its next
// block boundary and the caller sees the Interrupted.
//
// Who calls the handler: only the thread that entered the op (never a pool worker; the
// Python handler then runs on a thread Python knows). Writes into existing tensors
// (in-place ops, copies, .grad accumulation) run under a NoInterrupt guard, so an
// interrupted op never leaves an operand half-written: the stop comes before the write
// or not at all.
#pragma once

#include <cstdint>
#include <exception>

namespace ember::interrupt {

// Returns true when the running op should stop. Called on the op's own thread, never
// concurrently with itself on that thread. May block briefly (the Python handler takes
// the GIL).
using Handler = bool (*)();
void set_handler(Handler h);

// The exception poll() throws. Not an ember::Error: it is not the caller's fault, and
// the bindings turn it into whatever the handler recorded (KeyboardInterrupt).
class Interrupted : public std::exception {
 public:
  const char* what() const noexcept override { return "ember: operation interrupted"; }
};

constexpr int64_t kPollWork = int64_t{1} << 20;  // units between clock reads
constexpr int64_t kIntervalNs = 20'000'000;      // 20 ms between handler calls

namespace detail {
extern thread_local int64_t t_pending;
void poll_slow();
}  // namespace detail

// Records `work` units done; at block boundaries only (it may throw Interrupted).
// Always inlined: an out-of-line copy emitted by an AVX2 translation unit could be the one
// the linker keeps for the whole library (scripts/check_no_avx2.sh checks there is none).
[[gnu::always_inline]] inline void poll(int64_t work) {
  detail::t_pending += work;
  if (detail::t_pending >= kPollWork) detail::poll_slow();
}

// For loops over many short runs (rows of a broadcast op): sums work in a local and polls
// once per kBatch units, so a loop over 100 rows of 32 pays no thread-local access per row.
class Poller {
 public:
  static constexpr int64_t kBatch = int64_t{1} << 15;
  [[gnu::always_inline]] void add(int64_t work) {  // inlined, as poll() is
    local_ += work;
    if (local_ >= kBatch) {
      poll(local_);
      local_ = 0;
    }
  }

 private:
  int64_t local_ = 0;
};

// Calls the handler if this thread may be interrupted and kIntervalNs has passed since
// its last call; throws Interrupted when it asks to stop. For waits that do no work.
void check();

// While alive, this thread's polls never call the handler (its writes are not cut short).
class NoInterrupt {
 public:
  NoInterrupt();
  ~NoInterrupt();
  NoInterrupt(const NoInterrupt&) = delete;
  NoInterrupt& operator=(const NoInterrupt&) = delete;
};

// For tests and the Python debug hook: units of work polled (summed over threads, updated
// at each slow poll) and handler calls, since the last reset_stats().
struct Stats {
  int64_t work;
  int64_t handler_calls;
};
Stats stats();
void reset_stats();

}  // namespace ember::interrupt

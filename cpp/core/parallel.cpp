#include "core/parallel.h"

#include "core/interrupt.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ember::parallel {
namespace {

thread_local bool t_in_task = false;
thread_local bool t_worker = false;
// The cancel flag of the job whose task this thread is running, if any.
thread_local const std::atomic<bool>* t_cancel = nullptr;

// Spin iterations (~1 ms) before an idle worker sleeps on the condition variable.
constexpr int kSpin = 40000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

int default_threads() {
  for (const char* var : {"EMBER_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n >= 1) return n;
    }
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

class Pool {
 public:
  Pool() : num_threads_(default_threads()) {}
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }
  void set_num_threads(int n) { num_threads_.store(std::max(1, n), std::memory_order_relaxed); }

  void run(int64_t n, void (*fn)(void*, int64_t), void* ctx) {
    const int nt = static_cast<int>(std::min<int64_t>(num_threads(), n));
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (nt <= 1 || t_in_task || !busy.owns_lock()) {
      run_serial(n, fn, ctx);
      return;
    }
    ensure_workers(nt - 1);
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = fn;
      ctx_ = ctx;
      n_ = n;
      next_.store(0, std::memory_order_relaxed);
      helpers_ = nt - 1;
      joined_ = 0;
      exited_ = 0;
      open_ = true;
      error_ = nullptr;
      cancel_.store(false, std::memory_order_relaxed);
      generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    cv_.notify_all();
    work();
    // Close the job: a helper that has not joined by now never touches it. Then wait for
    // the helpers that did join (they are finishing their last task).
    std::unique_lock<std::mutex> lk(mu_);
    open_ = false;
    while (exited_ != joined_) {
      lk.unlock();
      for (int spin = 0; spin < 64; ++spin) cpu_relax();
      // The helpers may still run long tasks: a Ctrl-C meanwhile cancels them.
      try {
        interrupt::check();
      } catch (...) {
        fail(std::current_exception());
      }
      lk.lock();
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static void run_serial(int64_t n, void (*fn)(void*, int64_t), void* ctx) {
    const bool was = t_in_task;
    t_in_task = true;
    try {
      for (int64_t i = 0; i < n; ++i) fn(ctx, i);
    } catch (...) {
      t_in_task = was;
      throw;
    }
    t_in_task = was;
  }

  // Records the job's first error and cancels the rest of the job.
  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!error_) error_ = e;
    cancel_.store(true, std::memory_order_relaxed);
  }

  void work() {
    const bool was = t_in_task;
    const std::atomic<bool>* was_cancel = t_cancel;
    t_in_task = true;
    t_cancel = &cancel_;
    while (!cancel_.load(std::memory_order_relaxed)) {
      int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_) break;
      try {
        fn_(ctx_, i);
      } catch (...) {
        fail(std::current_exception());
      }
    }
    t_cancel = was_cancel;
    t_in_task = was;
  }

  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      const int id = static_cast<int>(workers_.size());
      const uint64_t gen = generation_.load(std::memory_order_relaxed);  // only run() changes it, on this thread
      workers_.emplace_back([this, id, gen] { worker_loop(id, gen); });
    }
  }

  void worker_loop(int id, uint64_t seen) {
    t_worker = true;
    for (;;) {
      // Spin for the next job (about 1 ms: waking a sleeping thread costs ~0.2 ms on a VM),
      // then sleep.
      for (int spin = 0; spin < kSpin && generation_.load(std::memory_order_acquire) == seen; ++spin) cpu_relax();
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
        if (stop_) return;
        seen = generation_.load(std::memory_order_relaxed);
        if (id >= helpers_ || !open_) continue;  // not needed, or the job is already closed
        ++joined_;
      }
      work();
      std::lock_guard<std::mutex> lk(mu_);
      ++exited_;
    }
  }

  std::atomic<int> num_threads_;
  std::mutex run_mu_;  // one job at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
  std::atomic<uint64_t> generation_{0};
  int helpers_ = 0, joined_ = 0, exited_ = 0;
  bool open_ = false;
  void (*fn_)(void*, int64_t) = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> cancel_{false};
  std::exception_ptr error_;
};

Pool& pool() {
  // Leaked on purpose: joining threads during static destruction can deadlock at exit.
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int get_num_threads() { return pool().num_threads(); }
void set_num_threads(int n) { pool().set_num_threads(n); }
bool in_parallel_region() { return t_in_task; }
bool is_worker_thread() { return t_worker; }
bool job_cancelled() { return t_cancel && t_cancel->load(std::memory_order_relaxed); }
void parallel_for_raw(int64_t n, void (*fn)(void*, int64_t), void* ctx) { pool().run(n, fn, ctx); }

}  // namespace ember::parallel

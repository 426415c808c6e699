// The interrupt path (core/interrupt.h): a handler that asks to stop makes long kernels
// throw Interrupted at a block boundary, on one thread and across the pool, without
// touching the operands; the pool and the kernels work normally afterwards; the handler
// runs only on the op's own thread; writes into existing tensors are never cut short.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/interrupt.h"
#include "core/parallel.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace ember {
namespace {

// Asks the owner thread (the test's) to stop at its g_stop_after-th call; counts the calls
// made on other threads, and never stops them.
std::atomic<int> g_calls{0}, g_stop_after{0}, g_foreign{0};
std::thread::id g_owner;
bool stop_handler() {
  if (std::this_thread::get_id() != g_owner) {
    g_foreign.fetch_add(1);
    return false;
  }
  return g_calls.fetch_add(1) + 1 >= g_stop_after.load();
}

class Interrupt : public ::testing::Test {
 protected:
  void arm(int stop_after) {
    g_calls = 0;
    g_foreign = 0;
    g_stop_after = stop_after;
    g_owner = std::this_thread::get_id();
    interrupt::reset_stats();
    interrupt::set_handler(&stop_handler);
  }
  void TearDown() override {
    interrupt::set_handler(nullptr);
    parallel::set_num_threads(threads_);
  }
  int threads_ = parallel::get_num_threads();
};

// Products long enough that stopping is visible: 1200^3 multiply-adds (~0.1 s).
constexpr int64_t kN = 1200;
Tensor big(int64_t seed) {
  std::mt19937_64 rng(seed);
  return test::uniform(rng, {kN, kN}, -1, 1, DType::Float32);
}

TEST_F(Interrupt, MatmulStopsEarlyAndLeavesOperandsAndLibraryUsable) {
  for (int threads : {1, 2}) {
    parallel::set_num_threads(threads);
    Tensor a = big(1), b = big(2);
    const std::vector<double> a0 = test::values(a), b0 = test::values(b);
    interrupt::set_handler(nullptr);
    Tensor want = mm(a, b);
    arm(1);  // the first handler call asks to stop
    EXPECT_THROW(mm(a, b), interrupt::Interrupted) << threads << " threads";
    const int64_t done = interrupt::stats().work;
    // The stop comes at the first poll (~1e6 units in); a helper thread runs on to its next
    // poll, longer only if this thread is descheduled meanwhile (a loaded machine): hence
    // half, not a tight bound.
    EXPECT_LT(done, kN * kN * kN / 2) << "the product ran on after the stop";
    EXPECT_EQ(g_foreign.load(), 0) << "the handler ran on a pool worker";
    EXPECT_FALSE(parallel::in_parallel_region());
    EXPECT_EQ(test::values(a), a0);
    EXPECT_EQ(test::values(b), b0);
    interrupt::set_handler(nullptr);
    EXPECT_EQ(test::values(mm(a, b)), test::values(want));  // pool and scratch buffers still sound
  }
}

TEST_F(Interrupt, HandlerThatDoesNotStopChangesNothing) {
  Tensor a = big(3), b = big(4);
  Tensor want = mm(a, b);
  arm(1 << 30);
  // Calls are throttled to one per interval: the handler ran, but not on every block.
  Tensor got;
  for (int i = 0; i < 20 && g_calls.load() == 0; ++i) got = mm(a, b);
  EXPECT_GT(g_calls.load(), 0);
  EXPECT_EQ(test::values(got), test::values(want));
}

TEST_F(Interrupt, ElementwiseAndReductionsStop) {
  // One thread: with two, a descheduled test thread may leave every chunk to the helper and
  // never reach a poll of its own (the matmul test covers the pool).
  parallel::set_num_threads(1);
  std::mt19937_64 rng(5);
  Tensor x = test::uniform(rng, {1 << 22}, -1, 1, DType::Float32);
  arm(1);
  EXPECT_THROW(exp(x), interrupt::Interrupted);
  arm(1);
  EXPECT_THROW(add(x, x), interrupt::Interrupted);
  arm(1);
  EXPECT_THROW(sum(x), interrupt::Interrupted);
  interrupt::set_handler(nullptr);
  for (const kernels::KernelTable* t : {&kernels::reference(), kernels::avx2_table()}) {
    if (!t) continue;
    Tensor out = zeros(x.shape(), DType::Float32);
    Shape shape = x.shape();
    std::vector<int64_t> s = {1};
    kernels::Loop l;
    l.ndim = 1;
    l.shape = shape.data();
    l.ptr[0] = out.raw_data();
    l.ptr[1] = x.raw_data();
    l.ptr[2] = x.raw_data();
    l.strides[0] = l.strides[1] = l.strides[2] = s.data();
    arm(1);
    EXPECT_THROW(t->binary(kernels::BinaryOp::Mul, DType::Float32, l), interrupt::Interrupted) << t->name;
    interrupt::set_handler(nullptr);
  }
  interrupt::set_handler(nullptr);
  EXPECT_DOUBLE_EQ(test::item(sum(add(x, x))), 2 * test::item(sum(x)));
}

TEST_F(Interrupt, InPlaceWritesAreNeverCutShort) {
  std::mt19937_64 rng(6);
  Tensor x = test::uniform(rng, {1 << 22}, -1, 1, DType::Float32);
  Tensor y = test::uniform(rng, {1 << 22}, -1, 1, DType::Float32);
  std::vector<double> want = test::values(add(x, y));
  arm(1);
  add_(x, y);  // the direct in-place path: no poll may stop it
  EXPECT_EQ(g_calls.load(), 0);
  EXPECT_EQ(test::values(x), want);
}

TEST_F(Interrupt, FailedTaskCancelsTheRestOfTheJob) {
  parallel::set_num_threads(2);
  std::atomic<int64_t> ran{0};
  EXPECT_THROW(parallel::parallel_for(10000,
                                      [&](int64_t i) {
                                        ran.fetch_add(1);
                                        if (i == 0) throw Error(ErrorKind::Runtime, "task 0 failed");
                                        std::this_thread::sleep_for(std::chrono::microseconds(100));
                                      }),
               Error);
  EXPECT_LT(ran.load(), 100);
  std::atomic<int64_t> all{0};
  parallel::parallel_for(1000, [&](int64_t) { all.fetch_add(1); });  // the next job runs every task
  EXPECT_EQ(all.load(), 1000);
}

TEST_F(Interrupt, OnlyTheInterruptedThreadStops) {
  // The handler runs on each op's own thread; a thread it does not stop finishes its
  // product while the test thread's is interrupted, even with both using the pool.
  parallel::set_num_threads(2);
  Tensor a = big(7), b = big(8);
  Tensor want = mm(a, b);
  arm(1);
  std::vector<double> got;
  std::thread other([&] {
    Tensor r;
    for (int i = 0; i < 3; ++i) r = mm(a, b);
    got = test::values(r);
  });
  for (int i = 0; i < 3; ++i) {
    g_calls = 0;
    interrupt::set_handler(&stop_handler);  // re-installed: called at the first poll, not 20 ms on
    EXPECT_THROW(mm(a, b), interrupt::Interrupted);
  }
  other.join();
  EXPECT_GT(g_foreign.load(), 0);  // the other thread polled too
  EXPECT_EQ(got, test::values(want));
  interrupt::set_handler(nullptr);
  EXPECT_EQ(test::values(mm(a, b)), test::values(want));
}

}  // namespace
}  // namespace ember

// core/small_pool.h: blocks are reused per thread and size class, are usable at their full
// size, and may be freed on another thread than the one that allocated them.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "core/small_pool.h"

namespace ember {
namespace {

#if !defined(__SANITIZE_ADDRESS__)
TEST(SmallPool, ReusesFreedBlocksOfTheSameClass) {
  void* a = pool::allocate(100);
  pool::deallocate(a, 100);
  void* b = pool::allocate(112);  // same 16-byte class as 100
  EXPECT_EQ(a, b);
  pool::deallocate(b, 112);
}
#endif

TEST(SmallPool, BlocksAreDistinctAndWritable) {
  std::vector<std::pair<void*, size_t>> live;
  std::set<void*> seen;
  for (size_t n : {1, 15, 16, 17, 100, 255, 256, 511, 512, 513, 4000}) {
    for (int k = 0; k < 100; ++k) {
      void* p = pool::allocate(n);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(std::max_align_t), 0u);
      std::memset(p, 0xAB, n);
      EXPECT_TRUE(seen.insert(p).second) << "block handed out twice";
      live.emplace_back(p, n);
    }
  }
  for (auto& [p, n] : live) pool::deallocate(p, n);
}

TEST(SmallPool, FreedOnAnotherThread) {
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(pool::allocate(64));
  std::thread t([&] {
    for (void* p : blocks) pool::deallocate(p, 64);
    // This thread's cache now holds some of them; it hands them out again and frees the
    // rest when it exits.
    void* again = pool::allocate(64);
    std::memset(again, 0, 64);
    pool::deallocate(again, 64);
  });
  t.join();
  void* mine = pool::allocate(64);
  std::memset(mine, 1, 64);
  pool::deallocate(mine, 64);
}

TEST(SmallPool, AllocatorWorksWithSharedPtrAndVector) {
  auto sp = std::allocate_shared<std::vector<int>>(pool::Allocator<std::vector<int>>(), 5, 7);
  EXPECT_EQ(sp->size(), 5u);
  std::vector<int, pool::Allocator<int>> v;
  for (int i = 0; i < 1000; ++i) v.push_back(i);
  EXPECT_EQ(v[999], 999);
}

}  // namespace
}  // namespace ember

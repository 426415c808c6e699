#include "core/small_pool.h"

#include <cstdint>
#include <cstdlib>
#include <new>

namespace ember::pool {

namespace {

constexpr size_t kGranule = 16;
constexpr size_t kMaxBytes = 512;
constexpr int kClasses = kMaxBytes / kGranule + 1;  // class c holds blocks of c * 16 bytes
constexpr uint32_t kKeep = 64;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so it stays usable while the thread exits (objects may die
// after the closer below has run: their blocks are then freed directly).
struct Cache {
  FreeBlock* head[kClasses];
  uint32_t count[kClasses];
  bool closed;
};
thread_local Cache t_cache{};

struct Closer {
  ~Closer() {
    for (int c = 0; c < kClasses; ++c) {
      while (FreeBlock* b = t_cache.head[c]) {
        t_cache.head[c] = b->next;
        std::free(b);
      }
      t_cache.count[c] = 0;
    }
    t_cache.closed = true;
  }
};
thread_local Closer t_closer;  // constructed (and its exit hook registered) on first use

inline size_t size_class(size_t nbytes) { return (nbytes + kGranule - 1) / kGranule; }

}  // namespace

void* allocate(size_t nbytes) {
  const size_t c = size_class(nbytes);
  if (c < kClasses) {
    Cache& tc = t_cache;
    if (FreeBlock* b = tc.head[c]) {
      tc.head[c] = b->next;
      --tc.count[c];
      return b;
    }
    void* p = std::malloc(c * kGranule);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void* p = std::malloc(nbytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void deallocate(void* p, size_t nbytes) noexcept {
  if (!p) return;
  const size_t c = size_class(nbytes);
  Cache& tc = t_cache;
  if (c < kClasses && c > 0 && !tc.closed && tc.count[c] < kKeep) {
    (void)&t_closer;
    auto* b = static_cast<FreeBlock*>(p);
    b->next = tc.head[c];
    tc.head[c] = b;
    ++tc.count[c];
    return;
  }
  std::free(p);
}

}  // namespace ember::pool

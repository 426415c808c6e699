#include "core/small_pool.h"

#include <cstdint>
#include <cstdlib>
#include <new>

#include "core/per_thread.h"

namespace ember::pool {

namespace {

constexpr size_t kGranule = 16;
constexpr size_t kMaxBytes = 512;
constexpr int kClasses = kMaxBytes / kGranule + 1;  // class c holds blocks of c * 16 bytes
constexpr uint32_t kKeep = 64;

struct FreeBlock {
  FreeBlock* next;
};

// One thread's free lists (core/per_thread.h: made on first use, freed at thread exit).
struct Cache {
  FreeBlock* head[kClasses];
  uint32_t count[kClasses];
  ~Cache() {
    for (FreeBlock* b : head) {
      while (b) {
        FreeBlock* next = b->next;
        std::free(b);
        b = next;
      }
    }
  }
};
using ThreadCache = PerThread<Cache>;

inline size_t size_class(size_t nbytes) { return (nbytes + kGranule - 1) / kGranule; }

// Under AddressSanitizer every block goes straight to malloc and free, so a use after free
// of a tensor or node is reported instead of landing in a cached block.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif
#else
constexpr bool kPooled = true;
#endif

}  // namespace

void* allocate(size_t nbytes) {
  const size_t c = size_class(nbytes);
  if (kPooled && c < kClasses) {
    Cache* tc = ThreadCache::if_made();
    if (FreeBlock* b = tc ? tc->head[c] : nullptr) {
      tc->head[c] = b->next;
      --tc->count[c];
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
  if (kPooled && c < kClasses && c > 0) {
    Cache* tc = ThreadCache::get();
    if (tc && tc->count[c] < kKeep) {
      auto* b = static_cast<FreeBlock*>(p);
      b->next = tc->head[c];
      tc->head[c] = b;
      ++tc->count[c];
      return;
    }
  }
  std::free(p);
}

}  // namespace ember::pool

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

// The lists live on the heap, behind one pointer per thread (small thread-locals are the
// cheap ones: see CMakeLists.txt). The pointer's holder is trivially destructible, so it
// stays readable while the thread exits (objects may die after the closer below has run:
// their blocks are then freed directly).
struct Cache {
  FreeBlock* head[kClasses];
  uint32_t count[kClasses];
};
struct CacheRef {
  Cache* cache;
  bool closed;
};
thread_local CacheRef t_cache{};

struct Closer {
  ~Closer() {
    if (Cache* tc = t_cache.cache) {
      for (int c = 0; c < kClasses; ++c) {
        while (FreeBlock* b = tc->head[c]) {
          tc->head[c] = b->next;
          std::free(b);
        }
      }
      delete tc;
    }
    t_cache.cache = nullptr;
    t_cache.closed = true;
  }
};
thread_local Closer t_closer;  // constructed (and its exit hook registered) on first use

// This thread's lists, made on first use; null once the thread is exiting.
Cache* thread_cache() {
  if (Cache* tc = t_cache.cache) return tc;
  if (t_cache.closed) return nullptr;
  (void)&t_closer;
  t_cache.cache = new (std::nothrow) Cache{};
  return t_cache.cache;
}

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
    Cache* tc = t_cache.cache;
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
    Cache* tc = thread_cache();
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

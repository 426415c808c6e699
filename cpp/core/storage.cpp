#include "core/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/error.h"
#include "core/per_thread.h"
#include "core/small_pool.h"
#include "core/version_counter.h"

namespace ember {

namespace {
constexpr size_t kAlignment = 64;
// Blocks from here up are kept in the large-block cache; smaller ones in the per-thread
// classes below (64 B .. 128 KiB). This was 256 KiB, which left 128-256 KiB blocks to
// malloc: the scaled training step's 4096 x 10 float32 tensors (160 KiB) were mapped and
// faulted in afresh each step (40 page faults per backward).
constexpr size_t kCacheMin = size_t{128} << 10;
constexpr size_t kPage = size_t{4} << 10;
// Buffers of at least this size are 2 MiB aligned and asked for transparent huge pages
// (numpy does the same from 4 MiB): one page fault and one TLB entry per 2 MiB instead of
// 512. On the Zen 1 VM, clamp of 1e7 float32 into a new output went from 16.6 to 20.4 GB/s
// on 1 thread (bench/run.py), neg and relu from 5.4-5.9 to 4.2 ms.
constexpr size_t kHugeMin = size_t{4} << 20, kHuge = size_t{2} << 20;

// A fresh buffer of `rounded` bytes (a multiple of kPage when large); rounded may grow.
void* fresh_buffer(size_t& rounded) {
#if defined(__linux__)
  if (rounded >= kHugeMin && rounded != SIZE_MAX) {
    const size_t r = (rounded + kHuge - 1) / kHuge * kHuge;
    if (void* p = std::aligned_alloc(kHuge, r)) {
      madvise(p, r, MADV_HUGEPAGE);  // advice only: ignored where THP is off
      rounded = r;
      return p;
    }
  }
#endif
  return rounded == SIZE_MAX ? nullptr : std::aligned_alloc(kAlignment, rounded);
}

// Free large blocks by capacity. Reuse takes the smallest block that fits, if it is at
// most 1/8 larger than asked (so a huge block is not spent on a medium request).
class BlockCache {
 public:
  void* take(size_t want, size_t& capacity) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = free_.lower_bound(want);
    if (it == free_.end() || it->first > want + want / 8) return nullptr;
    capacity = it->first;
    void* p = it->second;
    free_.erase(it);
    bytes_ -= capacity;
    return p;
  }
  // Keeps the block if it fits under the limit; returns false if the caller must free it.
  bool give(void* p, size_t capacity) {
    std::lock_guard<std::mutex> lk(mu_);
    if (bytes_ + capacity > limit_) return false;
    free_.emplace(capacity, p);
    bytes_ += capacity;
    return true;
  }
  size_t release() {
    std::lock_guard<std::mutex> lk(mu_);
    size_t n = bytes_;
    for (auto& [cap, p] : free_) std::free(p);
    free_.clear();
    bytes_ = 0;
    return n;
  }
  size_t bytes() {
    std::lock_guard<std::mutex> lk(mu_);
    return bytes_;
  }

 private:
  static size_t default_limit() {
    if (const char* v = std::getenv("EMBER_CACHE_MAX_MB")) return static_cast<size_t>(std::atoll(v)) << 20;
    return size_t{1} << 30;
  }
  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t bytes_ = 0;
  size_t limit_ = default_limit();
};

BlockCache& cache() {
  static BlockCache* c = new BlockCache();  // leaked: storages may die during exit
  return *c;
}

// Small and medium blocks (64 B up to the large-block cache) are rounded up to a power of
// two and kept per thread, a few per size: a small-tensor loop frees and allocates the same
// sizes every iteration, and glibc answers each 64-byte-aligned request with memalign's
// split-and-free, and each request over 1 KiB by consolidating its fast bins first (the
// chapter's loop spent ~10% of its time in malloc and free). No lock: a block freed on
// another thread goes to that thread's list.
constexpr size_t kSmallMin = kAlignment;
constexpr int kSmallClasses = 12;  // 64 B .. 128 KiB
// Blocks kept per class and thread: many for the tiny classes (a backward pass of a small
// graph holds dozens of 0-dim and 2x2 results at once), a few for the larger ones.
constexpr int kSmallKeepMax = 32;
constexpr int small_keep(int c) { return c < 5 ? kSmallKeepMax : 4; }  // 64 B .. 1 KiB: 32

// One thread's lists (core/per_thread.h: made on first use, freed at thread exit).
struct SmallCache {
  void* blocks[kSmallClasses][kSmallKeepMax];
  int count[kSmallClasses];
  ~SmallCache() {
    for (int c = 0; c < kSmallClasses; ++c)
      for (int i = 0; i < count[c]; ++i) std::free(blocks[c][i]);
  }
};
using ThreadSmallCache = PerThread<SmallCache>;

// The class of a request, or -1 outside the medium range; `rounded` becomes its capacity.
int small_class(size_t& rounded) {
  if (rounded < kSmallMin || rounded >= kCacheMin) return -1;
  int c = 0;
  size_t cap = kSmallMin;
  while (cap < rounded) {
    cap <<= 1;
    ++c;
  }
  if (c >= kSmallClasses) return -1;
  rounded = cap;
  return c;
}
}  // namespace

// One block for the Storage, its control block and (for a new tensor) its version counter.
struct StorageBlock {
  Storage storage;
  VersionCounter version;
};

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, std::shared_ptr<VersionCounter>* version) {
  auto block = std::allocate_shared<StorageBlock>(pool::Allocator<StorageBlock>());
  block->storage.allocate_buffer(nbytes);
  if (version) *version = std::shared_ptr<VersionCounter>(block, &block->version);
  return std::shared_ptr<Storage>(block, &block->storage);
}

void Storage::allocate_buffer(size_t nbytes) {
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded < nbytes) rounded = SIZE_MAX;  // overflowed: let the allocator refuse
  if (rounded == 0) rounded = kAlignment;
  void* p = nullptr;
  SmallCache* sc = ThreadSmallCache::if_made();
  if (int c = small_class(rounded); c >= 0 && sc && sc->count[c] > 0) {
    p = sc->blocks[c][--sc->count[c]];
  } else if (rounded >= kCacheMin && rounded != SIZE_MAX) {
    rounded = (rounded + kPage - 1) / kPage * kPage;
    size_t cap = 0;
    p = cache().take(rounded, cap);
    if (p) rounded = cap;
  }
  if (!p) p = fresh_buffer(rounded);
  if (!p) {
    throw Error(ErrorKind::Runtime, str("DefaultCPUAllocator: can't allocate memory: you tried to allocate ",
                                        nbytes, " bytes."));
  }
  data_ = p;
  nbytes_ = nbytes;
  capacity_ = rounded;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t nbytes, std::shared_ptr<void> owner) {
  auto block = std::allocate_shared<StorageBlock>(pool::Allocator<StorageBlock>());
  Storage& s = block->storage;
  s.data_ = data;
  s.nbytes_ = nbytes;
  s.owner_ = owner ? std::move(owner) : std::shared_ptr<void>(data, [](void*) {});
  return std::shared_ptr<Storage>(block, &s);
}

Storage::~Storage() {
  if (owner_ || !data_) return;
  size_t cap = capacity_;
  if (int c = small_class(cap); c >= 0 && cap == capacity_) {
    SmallCache* sc = ThreadSmallCache::get();
    if (sc && sc->count[c] < small_keep(c)) {
      sc->blocks[c][sc->count[c]++] = data_;
      return;
    }
  }
  if (capacity_ >= kCacheMin && cache().give(data_, capacity_)) return;
  std::free(data_);
}

size_t Storage::release_cache() { return cache().release(); }
size_t Storage::cached_bytes() { return cache().bytes(); }

}  // namespace ember

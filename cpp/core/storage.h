// Storage: one aligned buffer of bytes, shared by a tensor and all its views.
//
// Storage owns memory and nothing else: no shape, no dtype. It either allocates its
// buffer (64-byte aligned, so SIMD kernels may use aligned loads at offset 0) or wraps
// memory owned by someone else (a numpy array), kept alive through `owner`.
//
// Large buffers (>= 256 KiB) come from a cache (from 4 MiB on, 2 MiB aligned and advised
// for transparent huge pages): a freed large buffer is kept and handed to
// the next allocation of a similar size (up to 1/8 larger), instead of being returned to
// the OS and page-faulted in again on every op. The cache holds at most 1 GiB (or
// EMBER_CACHE_MAX_MB); release_cache() empties it. Smaller buffers (64 B to 256 KiB) are
// rounded up to a power of two and a few of each size are kept per thread, without a lock.
//
// A Storage and its shared_ptr control block are one allocation; a new tensor's version
// counter can share it too (allocate's second argument), so a fresh tensor costs two
// mallocs (this block and its TensorImpl) besides its buffer.
#pragma once

#include <cstddef>
#include <memory>

namespace ember {

struct VersionCounter;

class Storage {
 public:
  // Allocates nbytes (uninitialised). RuntimeError if the allocation fails. With
  // `version`, also makes a new VersionCounter in the same block and stores it there.
  static std::shared_ptr<Storage> allocate(size_t nbytes, std::shared_ptr<VersionCounter>* version = nullptr);
  // Wraps external memory; `owner` is released when the storage dies.
  static std::shared_ptr<Storage> wrap(void* data, size_t nbytes, std::shared_ptr<void> owner);

  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Frees every cached buffer; returns the bytes released.
  static size_t release_cache();
  // Bytes held by the cache (not in use by any tensor).
  static size_t cached_bytes();

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  bool is_external() const { return owner_ != nullptr; }

 private:
  friend struct StorageBlock;
  Storage() = default;
  void allocate_buffer(size_t nbytes);
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t capacity_ = 0;          // bytes actually allocated (>= nbytes_)
  std::shared_ptr<void> owner_;  // set for wrapped memory
};

}  // namespace ember

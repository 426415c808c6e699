// A per-thread cache of small heap blocks (16 to 512 bytes) for the objects every op
// makes and drops: a TensorImpl (with its shared_ptr control block), a Storage block,
// a backward Node, an AutogradMeta.
//
// glibc's own per-thread cache keeps 7 blocks per size; a backward pass holds dozens of
// tensors of one size at once, so most of its frees and mallocs went down glibc's slow
// paths (a fifth of a small graph's backward). Here each size class keeps up to 64 free
// blocks per thread in a singly linked list, without a lock. Blocks come from and go back
// to malloc, so a block freed on another thread (or after its thread's cache closed)
// simply joins that thread's list or is freed.
#pragma once

#include <cstddef>

namespace ember::pool {

void* allocate(size_t nbytes);
void deallocate(void* p, size_t nbytes) noexcept;

// For std::allocate_shared: control block and object in one pooled block.
template <typename T>
struct Allocator {
  using value_type = T;
  Allocator() = default;
  template <typename U>
  Allocator(const Allocator<U>&) {}  // NOLINT: rebinding, as std::allocator
  T* allocate(size_t n) { return static_cast<T*>(pool::allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { pool::deallocate(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const Allocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const Allocator<U>&) const {
    return false;
  }
};

}  // namespace ember::pool

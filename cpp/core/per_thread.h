// PerThread<T>: one T per thread, made on first use and destroyed when the thread exits,
// for the lock-free caches (core/storage.cpp's buffer lists, core/small_pool.cpp's block
// lists). T's destructor returns what it holds to malloc.
//
// Two properties the caches need, kept here once:
// - only a pointer and a flag are thread-locals, so the module's thread-local data stays
//   small enough for glibc to place it statically (cheap to reach: see CMakeLists.txt);
// - that holder is trivially destructible, so it stays readable while the thread exits:
//   an object dying after the closer has run finds no cache (get() returns null) and
//   frees its memory directly.
#pragma once

#include <new>

namespace ember {

template <typename T>
class PerThread {
 public:
  // This thread's T, or null if it was not made yet (the allocation fast path: no set-up).
  static T* if_made() { return ref_.object; }
  // This thread's T, made on first use; null once the thread is exiting (or if out of memory).
  static T* get() {
    if (T* t = ref_.object) return t;
    if (ref_.closed) return nullptr;
    (void)&closer_;  // constructs it, registering its exit hook
    ref_.object = new (std::nothrow) T{};
    return ref_.object;
  }

 private:
  struct Ref {
    T* object;
    bool closed;
  };
  struct Closer {
    ~Closer() {
      delete ref_.object;
      ref_.object = nullptr;
      ref_.closed = true;
    }
  };
  static thread_local Ref ref_;
  static thread_local Closer closer_;
};

template <typename T>
thread_local typename PerThread<T>::Ref PerThread<T>::ref_{};
template <typename T>
thread_local typename PerThread<T>::Closer PerThread<T>::closer_;

}  // namespace ember

// Tensor: a cheap handle to a TensorImpl.
//
// TensorImpl holds the layout (storage, element offset, shape, strides, dtype), the
// version counter, and the autograd state. Views share the storage and the version
// counter of the tensor they were made from, so an in-place write through any of them
// is seen by every SavedVariable that saved one of them.
//
// Invariants:
// - strides are in elements and non-negative; offset + the largest reachable index
//   stays inside the storage;
// - a view records the root tensor it aliases (view_base), never a chain of views;
// - autograd state lives in AutogradMeta, allocated only for tensors that take part
//   in autograd (requires_grad, grad_fn, a .grad, or retain_grad).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/small_pool.h"
#include "core/storage.h"
#include "core/version_counter.h"

namespace ember {

class Node;
class TensorImpl;
struct LeafHooks;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* get() const { return impl_.get(); }
  TensorImpl* operator->() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // Layout.
  const Shape& shape() const;
  const Strides& strides() const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t size(int64_t d) const;
  DType dtype() const;
  int64_t offset() const;
  bool is_contiguous() const;
  char* raw_data() const;  // pointer to element 0 (storage + offset)
  template <typename T>
  T* data() const { return reinterpret_cast<T*>(raw_data()); }
  const std::shared_ptr<Storage>& storage() const;

  // Autograd.
  bool requires_grad() const;
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;
  bool is_leaf() const;
  uint32_t version() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // AccumulateGrad for a leaf, created lazily
  std::unique_ptr<LeafHooks> hooks;       // a leaf's hooks (autograd/hooks.h); null until one is registered
  ~AutogradMeta();                        // tears down long graphs without recursion
  static void* operator new(size_t n) { return pool::allocate(n); }
  static void operator delete(void* p, size_t n) noexcept { pool::deallocate(p, n); }
};

class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Strides strides, DType dtype,
             std::shared_ptr<VersionCounter> version);

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  int64_t offset() const { return offset_; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  char* raw_data() const { return static_cast<char*>(storage_->data()) + offset_ * itemsize(dtype_); }

  // Version counter, shared by views.
  uint32_t version() const { return version_->value.load(std::memory_order_relaxed); }
  // An in-place write by `op` (a string literal): bumps the version and records the writer.
  void bump_version(const char* op);
  const std::shared_ptr<VersionCounter>& version_counter() const { return version_; }

  // Views.
  bool is_view() const { return view_base_.defined(); }
  const Tensor& view_base() const { return view_base_; }
  void set_view_base(const Tensor& base);

  // A Python scalar wrapped as a 0-dim tensor (affects type promotion only).
  bool is_wrapped_number = false;

  // Autograd state; null until needed.
  AutogradMeta* autograd() const { return autograd_.get(); }
  AutogradMeta& ensure_autograd();

  // The object a language binding made for this tensor, if it still lives (Python: the
  // ember.Tensor, not owned; set and cleared by the bindings under the GIL). Lets the
  // bindings hand back the same object for the same tensor without a lookup table.
  void* binding_object() const { return binding_object_; }
  void set_binding_object(void* o) { binding_object_ = o; }

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_;
  Shape shape_;
  Strides strides_;
  int64_t numel_;
  DType dtype_;
  std::shared_ptr<VersionCounter> version_;
  std::unique_ptr<AutogradMeta> autograd_;
  Tensor view_base_;
  void* binding_object_ = nullptr;
};

// Factories over raw layout (no autograd). `empty` allocates uninitialised memory.
Tensor make_tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Strides strides, DType dtype,
                   std::shared_ptr<VersionCounter> version = nullptr);
Tensor empty(const Shape& shape, DType dtype);
// A view of `base` with a new layout, sharing storage, version counter and view base.
Tensor make_view(const Tensor& base, int64_t offset, Shape shape, Strides strides);

// "[ember.FloatTensor [2, 3]]" as PyTorch names a tensor in autograd messages.
std::string tensor_desc(const Tensor& t);

inline const Shape& Tensor::shape() const { return impl_->shape(); }
inline const Strides& Tensor::strides() const { return impl_->strides(); }
inline int64_t Tensor::dim() const { return static_cast<int64_t>(impl_->shape().size()); }
inline int64_t Tensor::numel() const { return impl_->numel(); }
inline DType Tensor::dtype() const { return impl_->dtype(); }
inline int64_t Tensor::offset() const { return impl_->offset(); }
inline char* Tensor::raw_data() const { return impl_->raw_data(); }
inline const std::shared_ptr<Storage>& Tensor::storage() const { return impl_->storage(); }
inline uint32_t Tensor::version() const { return impl_->version(); }

}  // namespace ember

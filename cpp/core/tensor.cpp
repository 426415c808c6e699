#include "core/tensor.h"

#include "autograd/node.h"
#include "core/error.h"
#include "core/small_pool.h"

namespace ember {

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Strides strides, DType dtype,
                       std::shared_ptr<VersionCounter> version)
    : storage_(std::move(storage)),
      offset_(offset),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      numel_(shape_numel(shape_)),
      dtype_(dtype),
      version_(version ? std::move(version) : std::make_shared<VersionCounter>()) {}

void TensorImpl::bump_version(const char* op) {
  VersionCounter& v = *version_;
  v.value.fetch_add(1, std::memory_order_relaxed);
  if (!v.saved.load(std::memory_order_relaxed)) return;  // no backward can trip over this write
  v.last_writer = op;
  v.writer_site = capture_site();
}

AutogradMeta& TensorImpl::ensure_autograd() {
  if (!autograd_) autograd_ = std::make_unique<AutogradMeta>();
  return *autograd_;
}

void TensorImpl::set_view_base(const Tensor& base) {
  // Always point at the root, so chains of views never form.
  view_base_ = base->is_view() ? base->view_base() : base;
}

AutogradMeta::~AutogradMeta() { release_node(std::move(grad_fn)); }

Tensor make_tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Strides strides, DType dtype,
                   std::shared_ptr<VersionCounter> version) {
  return Tensor(std::allocate_shared<TensorImpl>(pool::Allocator<TensorImpl>(), std::move(storage), offset,
                                                 std::move(shape), std::move(strides), dtype, std::move(version)));
}

Tensor empty(const Shape& shape, DType dtype) {
  int64_t n = shape_numel(shape);
  size_t isz = itemsize(dtype);
  EMBER_CHECK(n <= static_cast<int64_t>(SIZE_MAX / isz / 2), "DefaultCPUAllocator: can't allocate memory: you tried to allocate ",
              static_cast<double>(n) * isz, " bytes for a tensor of shape ", shape_str(shape));
  std::shared_ptr<VersionCounter> version;
  auto st = Storage::allocate(static_cast<size_t>(n) * isz, &version);
  return make_tensor(std::move(st), 0, shape, contiguous_strides(shape), dtype, std::move(version));
}

Tensor make_view(const Tensor& base, int64_t offset, Shape shape, Strides strides) {
  Tensor v = make_tensor(base.storage(), offset, std::move(shape), std::move(strides), base.dtype(),
                         base->version_counter());
  v->set_view_base(base);
  return v;
}

std::string tensor_desc(const Tensor& t) {
  return str("[ember.", dtype_tensor_type(t.dtype()), " ", shape_str(t.shape()), "]");
}

int64_t Tensor::size(int64_t d) const { return impl_->shape()[wrap_dim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const { return is_contiguous_layout(impl_->shape(), impl_->strides()); }

bool Tensor::requires_grad() const {
  auto* m = impl_->autograd();
  return m && (m->requires_grad || m->grad_fn);
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  auto* m = impl_->autograd();
  return m ? m->grad_fn : none;
}

uint32_t Tensor::output_nr() const {
  auto* m = impl_->autograd();
  return m ? m->output_nr : 0;
}

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

}  // namespace ember

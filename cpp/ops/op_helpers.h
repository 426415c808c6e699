// Shared plumbing for the op files: recording nodes and launching kernel loops.
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/saved_variable.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

namespace ember::detail {

// True when an op on these inputs must record a node.
inline bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

// Creates node N with one edge per input (in order), or returns null when no input
// requires grad or grad mode is off.
template <typename N>
std::shared_ptr<N> make_node(std::initializer_list<const Tensor*> inputs) {
  if (!should_record(inputs)) return nullptr;
  auto node = std::make_shared<N>();
  for (const Tensor* t : inputs) node->add_input(*t);
  return node;
}

// Makes `out` the output `output_nr` of `node`.
inline void set_history(const Tensor& out, const std::shared_ptr<Node>& node, uint32_t output_nr = 0) {
  if (!node) return;
  AutogradMeta& m = out->ensure_autograd();
  m.grad_fn = node;
  m.output_nr = output_nr;
}

// Builds a kernel Loop over `shape` for operands added in order (operand 0 first).
// Each operand is read through broadcast strides; dims are coalesced.
class LoopBuilder {
 public:
  explicit LoopBuilder(Shape shape) : shape_(std::move(shape)) {}
  LoopBuilder& add(const Tensor& t) {
    strides_.push_back(broadcast_strides(t.shape(), t.strides(), shape_));
    ptrs_.push_back(t.raw_data());
    return *this;
  }
  const kernels::Loop& build() {
    std::vector<Strides*> ps;
    for (auto& s : strides_) ps.push_back(&s);
    coalesce_dims(shape_, ps);
    loop_.ndim = static_cast<int>(shape_.size());
    loop_.shape = shape_.data();
    for (size_t k = 0; k < strides_.size(); ++k) {
      loop_.ptr[k] = ptrs_[k];
      loop_.strides[k] = strides_[k].data();
    }
    return loop_;
  }

 private:
  Shape shape_;
  std::vector<Strides> strides_;
  std::vector<char*> ptrs_;
  kernels::Loop loop_;
};

inline kernels::ScalarValue scalar_value(Scalar s) { return {s.f, s.i}; }

// Copies src into dst (same shape after broadcasting src), converting dtype. No autograd.
void copy_into(const Tensor& dst, const Tensor& src);

// Checks shared by every in-place op; throws PyTorch's errors.
void check_inplace(const Tensor& self, const char* op, std::initializer_list<const Tensor*> others);

// After an in-place op recorded `node`, makes it self's grad_fn (moving retain_grad).
void rebase_history(Tensor& self, const std::shared_ptr<Node>& node, uint32_t output_nr);

// The dtype PyTorch's result_type gives for these operands.
DType result_type(std::initializer_list<const Tensor*> operands);

// Lets an in-place op write a result of dtype `from` into a tensor of dtype `to`.
void check_can_cast(DType from, DType to, const char* op);

}  // namespace ember::detail

// Shared plumbing for the op files: recording nodes and launching kernel loops.
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/saved_variable.h"
#include "core/error.h"
#include "core/small_pool.h"
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

// A new node of type N, from the per-thread block cache (core/small_pool.h).
template <typename N, typename... Args>
std::shared_ptr<N> new_node(Args&&... args) {
  return std::allocate_shared<N>(pool::Allocator<N>(), std::forward<Args>(args)...);
}

// Creates node N with one edge per input (in order), or returns null when no input
// requires grad or grad mode is off.
template <typename N>
std::shared_ptr<N> make_node(std::initializer_list<const Tensor*> inputs) {
  if (!should_record(inputs)) return nullptr;
  auto node = new_node<N>();
  node->reserve_inputs(inputs.size());
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
// Each operand is read through broadcast strides; dims are coalesced. Up to
// kInlineDims dims everything lives in fixed arrays inside the builder (no heap
// allocation on the per-op path); more dims fall back to vectors.
class LoopBuilder {
 public:
  static constexpr size_t kInlineDims = 8;
  explicit LoopBuilder(const Shape& shape) : ndim_(shape.size()) {
    if (ndim_ > kInlineDims) {
      big_shape_ = shape;
      big_strides_.resize(kernels::kMaxOperands);
    } else {
      for (size_t i = 0; i < ndim_; ++i) shape_[i] = shape[i];
    }
  }
  LoopBuilder& add(const Tensor& t) {
    const int k = nops_++;
    loop_.ptr[k] = t.raw_data();
    if (ndim_ > kInlineDims) {
      big_strides_[k] = broadcast_strides(t.shape(), t.strides(), big_shape_);
      return *this;
    }
    const Shape& s = t.shape();
    const Strides& st = t.strides();
    const size_t off = ndim_ - s.size();
    for (size_t i = 0; i < off; ++i) strides_[k][i] = 0;
    for (size_t i = 0; i < s.size(); ++i) strides_[k][off + i] = s[i] == 1 ? 0 : st[i];
    return *this;
  }
  const kernels::Loop& build() {
    if (ndim_ > kInlineDims) {
      std::vector<Strides*> ps;
      for (int k = 0; k < nops_; ++k) ps.push_back(&big_strides_[k]);
      coalesce_dims(big_shape_, ps);
      loop_.ndim = static_cast<int>(big_shape_.size());
      loop_.shape = big_shape_.data();
      for (int k = 0; k < nops_; ++k) loop_.strides[k] = big_strides_[k].data();
      return loop_;
    }
    coalesce();
    loop_.ndim = static_cast<int>(ndim_);
    loop_.shape = shape_;
    for (int k = 0; k < nops_; ++k) loop_.strides[k] = strides_[k];
    return loop_;
  }

 private:
  // coalesce_dims (core/shape.h) on the inline arrays, step for step.
  void coalesce() {
    if (ndim_ <= 1) return;
    size_t w = 0;
    for (size_t r = 0; r < ndim_; ++r) {
      if (shape_[r] == 1) continue;
      shape_[w] = shape_[r];
      for (int k = 0; k < nops_; ++k) strides_[k][w] = strides_[k][r];
      ++w;
    }
    if (w == 0) {  // all ones: keep a single dim
      ndim_ = 1;
      shape_[0] = 1;
      for (int k = 0; k < nops_; ++k) strides_[k][0] = 0;
      return;
    }
    size_t out = 0;
    for (size_t i = 1; i < w; ++i) {
      bool mergeable = true;
      for (int k = 0; k < nops_; ++k) mergeable &= (strides_[k][out] == strides_[k][i] * shape_[i]);
      if (mergeable) {
        shape_[out] *= shape_[i];
      } else {
        ++out;
        shape_[out] = shape_[i];
      }
      for (int k = 0; k < nops_; ++k) strides_[k][out] = strides_[k][i];
    }
    ndim_ = out + 1;
  }

  size_t ndim_;
  int nops_ = 0;
  int64_t shape_[kInlineDims];
  int64_t strides_[kernels::kMaxOperands][kInlineDims];
  Shape big_shape_;
  std::vector<Strides> big_strides_;
  kernels::Loop loop_;
};

inline kernels::ScalarValue scalar_value(Scalar s) { return {s.f, s.i}; }

// a viewed at `shape` by expand's rule (-1 keeps a size), with no autograd; its errors are
// expand's texts ending in " (in <where>)".
Tensor expand_view(const Tensor& a, const std::vector<int64_t>& shape, const std::string& where);

// Copies src into dst (same shape after broadcasting src), converting dtype. No autograd.
void copy_into(const Tensor& dst, const Tensor& src);

// Checks shared by every in-place op; throws PyTorch's errors.
void check_inplace(const Tensor& self, const char* op, std::initializer_list<const Tensor*> others);
// Throws PyTorch's RuntimeError when `other` partially overlaps self in memory (the in-place
// ops where PyTorch checks: add_, sub_, mul_, div_, copy_).
void check_no_partial_overlap(const Tensor& self, const Tensor& other, const char* op);

// After an in-place op recorded `node`, makes it self's grad_fn (moving retain_grad).
void rebase_history(Tensor& self, const std::shared_ptr<Node>& node, uint32_t output_nr);

// The dtype PyTorch's result_type gives for these operands.
DType result_type(std::initializer_list<const Tensor*> operands);

// Lets an in-place op write a result of dtype `from` into a tensor of dtype `to`.
void check_can_cast(DType from, DType to, const char* op);

// Runs an in-place op as "compute out of place, write back": the result is checked against
// self's shape and dtype, copied in, and its node becomes self's history. (Ops with a
// direct path write into self themselves when there is no graph to record.)
template <typename F>
Tensor& inplace(Tensor& self, const char* op, std::initializer_list<const Tensor*> others, F out_of_place) {
  check_inplace(self, op, others);
  bool record = should_record(others) || (GradMode::is_enabled() && self.requires_grad());
  Tensor src = self;
  if (record) {
    // The op's backward may need self's old value: compute from a copy that carries
    // self's history, so writing into self does not invalidate what was saved.
    src = contiguous_copy(self);
    AutogradMeta& m = src->ensure_autograd();
    m.grad_fn = self.grad_fn();
    m.output_nr = self.output_nr();
  }
  Tensor r;
  {
    AutoGradMode mode(record);
    r = out_of_place(src);
  }
  if (r.shape() != self.shape()) {
    throw Error(ErrorKind::Runtime, str("output with shape ", shape_str(self.shape()),
                                        " doesn't match the broadcast shape ", shape_str(r.shape()), " (in ", op, ")"));
  }
  check_can_cast(r.dtype(), self.dtype(), op);
  copy_into(self, r);
  self->bump_version(op);
  if (record) rebase_history(self, r.grad_fn(), r.output_nr());
  return self;
}

}  // namespace ember::detail

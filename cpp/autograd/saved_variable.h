// SavedVariable: a tensor an op keeps for its backward, with the version it had.
//
// Saving records the tensor's version counter value; unpacking checks it, so an
// in-place write between forward and backward (through the tensor or any view of it)
// is caught instead of silently producing a wrong gradient. A node's own output is
// saved without its autograd state (that would be a cycle output -> node -> output)
// and gets it back, pointing at the node, when unpacked.
#pragma once

#include <memory>

#include "core/tensor.h"

namespace ember {

class SavedVariable {
 public:
  SavedVariable() = default;
  SavedVariable(const Tensor& t, bool is_output);

  // The saved tensor, with its history when `owner` produced it. Throws the
  // backward-twice error once released and the in-place error on a version mismatch.
  Tensor unpack(const Node* owner) const;
  void reset();
  bool defined() const { return saved_.defined() || released_; }

 private:
  Tensor saved_;
  uint32_t version_ = 0;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
  bool released_ = false;
  bool had_grad_fn_ = false;  // a saved non-leaf input: losing its grad_fn means detach_()
};

// The error texts, shared with other places that detect the same conditions.
extern const char* const kBackwardTwiceMessage;

}  // namespace ember

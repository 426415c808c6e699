// SavedVariable: a tensor an op keeps for its backward, with the version it had.
//
// Saving records the tensor's version counter value; unpacking checks it, so an
// in-place write between forward and backward (through the tensor or any view of it)
// is caught instead of silently producing a wrong gradient.
//
// A saved variable never holds the user's TensorImpl when that tensor takes part in
// autograd: it keeps an alias (same storage, layout and version counter) that carries
// only the gradient edge. Holding the tensor itself would make a cycle as soon as the
// tensor's .grad has history reaching this node (backward(create_graph=True): param ->
// .grad -> grad's graph -> node that saved param -> param), which PyTorch leaks.
// A node's own output is saved without any autograd state (that would be a cycle
// output -> node -> output) and gets it back, pointing at the node, when unpacked.
#pragma once

#include <memory>
#include <string>

#include "core/error.h"
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
  // What introspection hands the user (grad_fn._saved_self, ctx.saved_tensors): unpack()'s
  // checks, then the caller's own tensor while it exists (`is x`, as in PyTorch). Backward
  // formulas use unpack(), whose alias keeps the graph from owning the tensor.
  Tensor unpack_for_user(const Node* owner) const;
  bool defined() const { return saved_.defined() || released_; }

 private:
  std::string modified_message(const Node* owner) const;
  // The tensor that was saved, if it still exists and required grad.
  Tensor original() const { return Tensor(original_.lock()); }

  Tensor saved_;
  std::shared_ptr<Node> accumulator_;     // a saved leaf's AccumulateGrad, kept alive for the alias' edge
  std::weak_ptr<TensorImpl> original_;    // the tensor that was saved, for the detach_() check
  uint32_t version_ = 0;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
  bool released_ = false;
  bool had_grad_fn_ = false;  // a saved non-leaf input: losing its grad_fn means detach_()
};

// The error texts, shared with other places that detect the same conditions.
extern const char* const kBackwardTwiceMessage;

// Thrown by unpack() once the saved tensor was freed; the engine catches it and adds
// what it knows (which backward() freed the graph, and whether this is the same graph).
class FreedGraphError : public Error {
 public:
  FreedGraphError() : Error(ErrorKind::Runtime, kBackwardTwiceMessage) {}
};

}  // namespace ember

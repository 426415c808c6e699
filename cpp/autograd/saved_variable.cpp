#include "autograd/saved_variable.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/error.h"

namespace ember {

const char* const kBackwardTwiceMessage =
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if "
    "you need to access saved tensors after calling backward.";

SavedVariable::SavedVariable(const Tensor& t, bool is_output) : version_(t.version()), is_output_(is_output) {
  if (!t.defined()) return;
  if (is_output) {
    // Same storage, layout and version counter; no autograd state (no cycle).
    saved_ = make_tensor(t.storage(), t.offset(), t.shape(), t.strides(), t.dtype(), t->version_counter());
    output_nr_ = t.output_nr();
  } else {
    saved_ = t;
    had_grad_fn_ = t.grad_fn() != nullptr;
  }
}

void SavedVariable::reset() {
  if (saved_.defined()) released_ = true;
  saved_ = Tensor();
}

Tensor SavedVariable::unpack(const Node* owner) const {
  if (released_) throw Error(ErrorKind::Runtime, kBackwardTwiceMessage);
  if (!saved_.defined()) return Tensor();
  if (had_grad_fn_ && !saved_.grad_fn()) {
    throw Error(ErrorKind::Runtime, "Trying to use a saved tensor that has been detached in-place, i.e. with "
                                    ".detach_().This is not supported, please use out-of-place `.detach()` instead");
  }
  if (saved_.version() != version_) {
    std::string which;
    if (is_output_ && owner) {
      which = str(", which is output ", output_nr_, " of ", owner->name(), ",");
    } else if (saved_.grad_fn()) {
      which = str(", which is output ", saved_.output_nr(), " of ", saved_.grad_fn()->name(), ",");
    }
    throw Error(ErrorKind::Runtime,
                str("one of the variables needed for gradient computation has been modified by an inplace "
                    "operation: ",
                    tensor_desc(saved_), which, " is at version ", saved_.version(), "; expected version ", version_,
                    " instead. It was saved for backward by ", owner ? owner->name() : std::string("a node"),
                    " and written in place afterwards; do the in-place update under ember.no_grad(), or use an "
                    "out-of-place op (x = x + y instead of x += y)."));
  }
  if (is_output_ && owner && GradMode::is_enabled()) {
    // Give the output back its history so a create_graph backward can differentiate through it.
    Tensor t = make_tensor(saved_.storage(), saved_.offset(), saved_.shape(), saved_.strides(), saved_.dtype(),
                           saved_->version_counter());
    AutogradMeta& m = t->ensure_autograd();
    m.grad_fn = const_cast<Node*>(owner)->shared_from_this();
    m.output_nr = output_nr_;
    return t;
  }
  return saved_;
}

}  // namespace ember

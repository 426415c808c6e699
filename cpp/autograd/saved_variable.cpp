#include "autograd/saved_variable.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/source_site.h"
#include "core/error.h"

namespace ember {

const char* const kBackwardTwiceMessage =
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if "
    "you need to access saved tensors after calling backward.";

namespace {
// Same storage, layout and version counter as `t`, and no autograd state.
Tensor bare_alias(const Tensor& t) {
  return make_tensor(t.storage(), t.offset(), t.shape(), t.strides(), t.dtype(), t->version_counter());
}
}  // namespace

SavedVariable::SavedVariable(const Tensor& t, bool is_output)
    : version_(t.defined() ? t.version() : 0), is_output_(is_output) {
  if (!t.defined()) return;
  t->version_counter()->saved.store(true, std::memory_order_relaxed);
  if (is_output) {
    saved_ = bare_alias(t);  // no autograd state: output -> node -> output would be a cycle
    output_nr_ = t.output_nr();
  } else if (t.requires_grad()) {
    saved_ = bare_alias(t);
    AutogradMeta& m = saved_->ensure_autograd();
    if (t.grad_fn()) {
      m.grad_fn = t.grad_fn();
      m.output_nr = t.output_nr();
      had_grad_fn_ = true;
    } else {
      m.requires_grad = true;
      accumulator_ = grad_accumulator(t);
      m.grad_accumulator = accumulator_;
    }
    original_ = t.impl();
  } else {
    saved_ = t;  // outside autograd: no edge through it can close a cycle
  }
}

void SavedVariable::reset() {
  if (saved_.defined()) released_ = true;
  saved_ = Tensor();
  accumulator_.reset();
}

// PyTorch's sentence first (so it can be searched for), then who saved the tensor and
// who wrote it, with the places in the user's code where each happened.
std::string SavedVariable::modified_message(const Node* owner) const {
  std::string which;
  if (is_output_ && owner) {
    which = str(", which is output ", output_nr_, " of ", owner->name(), ",");
  } else if (Tensor orig = original(); orig.defined() && orig.grad_fn()) {
    // the tensor's history now (an in-place op has replaced it), as PyTorch reports it
    which = str(", which is output ", orig.output_nr(), " of ", orig.grad_fn()->name(), ",");
  } else if (saved_.grad_fn()) {
    which = str(", which is output ", saved_.output_nr(), " of ", saved_.grad_fn()->name(), ",");
  }
  const uint32_t now = saved_.version();
  std::string msg = str("one of the variables needed for gradient computation has been modified by an inplace "
                        "operation: ", tensor_desc(saved_), which, " is at version ", now, "; expected version ",
                        version_, " instead. ");
  std::string name = user_name_of(saved_);
  const std::string what = str("(", dtype_name(saved_.dtype()), " ", shape_str(saved_.shape()), ")");
  msg += name.empty() ? str("The tensor ", what) : str("`", name, "` ", what);
  const std::string saver = owner ? owner->name() : std::string("a node");
  msg += str(" was saved by ", saver, owner ? at_site(owner->site()) : std::string());
  const VersionCounter& vc = *saved_->version_counter();
  if (vc.last_writer) {
    msg += str(" and modified in place by ", vc.last_writer, at_site(vc.writer_site));
  } else {
    msg += " and modified in place afterwards";
  }
  msg += str(" (version ", version_, " -> ", now, "). Do the update under ember.no_grad() or use an out-of-place "
             "op (x = x + y instead of x += y or x.add_(y)).");
  return msg;
}

Tensor SavedVariable::unpack(const Node* owner) const {
  if (released_) throw FreedGraphError();
  if (!saved_.defined()) return Tensor();
  if (Tensor orig = original(); had_grad_fn_ && orig.defined() && !orig.grad_fn()) {
    throw Error(ErrorKind::Runtime, "Trying to use a saved tensor that has been detached in-place, i.e. with "
                                    ".detach_().This is not supported, please use out-of-place `.detach()` instead");
  }
  if (saved_.version() != version_) throw Error(ErrorKind::Runtime, modified_message(owner));
  if (is_output_ && owner && GradMode::is_enabled()) {
    // Give the output back its history so a create_graph backward can differentiate through it.
    Tensor t = bare_alias(saved_);
    AutogradMeta& m = t->ensure_autograd();
    m.grad_fn = const_cast<Node*>(owner)->shared_from_this();
    m.output_nr = output_nr_;
    return t;
  }
  return saved_;
}

Tensor SavedVariable::unpack_for_user(const Node* owner) const {
  Tensor t = unpack(owner);  // raises once freed or modified in place
  Tensor orig = original();
  return orig.defined() ? orig : t;
}

}  // namespace ember

// ember.autograd.Function: a node whose backward is a Python staticmethod.
//
// Function.apply (python/ember/autograd/function.py) runs forward under no_grad, then
// calls _function_record here, which builds a PyFunctionNode: one edge per tensor
// argument (non-tensor arguments get none), the outputs' history pointing at it, and
// the tensors given to ctx.save_for_backward as SavedVariables (version-checked, freed
// after backward unless the graph is retained).
//
// Ownership, as in PyTorch: the node owns the Python ctx (an instance of the
// <ClassName>Backward class, which is what grad_fn shows); the ctx refers back to the
// node weakly, through a _FunctionNodeRef, so the two make no cycle.
#include <algorithm>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/saved_variable.h"
#include "common.h"
#include "ops/op_helpers.h"

namespace ember::py_bind {

namespace {

class PyFunctionNode final : public Node {
 public:
  PyFunctionNode(py::object ctx, std::string name) : ctx_(std::move(ctx)), name_(std::move(name)) {}
  ~PyFunctionNode() override {
    if (!Py_IsInitialized() || _Py_IsFinalizing()) {
      ctx_.release();
      return;
    }
    py::gil_scoped_acquire gil;
    ctx_ = py::object();
  }

  std::string name() const override { return name_; }
  uint32_t num_outputs() const override { return static_cast<uint32_t>(outputs_.size()); }
  void release_variables() override {
    for (SavedVariable& s : saved_) s.reset();
  }
  variable_list apply(variable_list&& grads) override;

  py::object ctx_;
  std::string name_;
  std::vector<int> arg_edge_;               // per forward argument: its edge, or -1 (not a tensor)
  std::vector<std::optional<InputMeta>> outputs_;  // per forward output: shape/dtype of a tensor output
  std::vector<SavedVariable> saved_;
  bool materialize_grads_ = true;
};

variable_list PyFunctionNode::apply(variable_list&& grads) {
  py::gil_scoped_acquire gil;
  py::tuple args(1 + grads.size());
  args[0] = ctx_;
  for (size_t i = 0; i < grads.size(); ++i) {
    if (grads[i].defined()) {
      args[1 + i] = py::cast(grads[i]);
    } else if (materialize_grads_ && i < outputs_.size() && outputs_[i]) {
      args[1 + i] = py::cast(zeros(outputs_[i]->shape, outputs_[i]->dtype));
    } else {
      args[1 + i] = py::none();
    }
  }
  py::object r = ctx_.attr("_forward_cls").attr("backward")(*args);
  py::tuple t = py::isinstance<py::tuple>(r) ? py::reinterpret_borrow<py::tuple>(r) : py::make_tuple(r);

  const size_t n_args = arg_edge_.size();
  size_t n = t.size();
  if (n > n_args) {  // extra trailing Nones are allowed, as in PyTorch
    bool all_none = true;
    for (size_t i = n_args; i < n; ++i) all_none &= t[i].is_none();
    if (all_none) n = n_args;
  }
  if (n != n_args) {
    throw Error(ErrorKind::Runtime, str("function ", name_, " returned an incorrect number of gradients (expected ",
                                        n_args, ", got ", n, ")"));
  }
  variable_list out(next_edges_.size());
  for (size_t i = 0; i < n_args; ++i) {
    py::handle g = t[i];
    if (g.is_none()) continue;
    if (arg_edge_[i] < 0) {
      throw Error(ErrorKind::Runtime, str("function ", name_, " returned a gradient different than None at position ",
                                          i + 1, ", but the corresponding forward input was not a Variable"));
    }
    if (!is_tensor(g)) {
      throw Error(ErrorKind::Runtime, str("expected Variable or None (got ",
                                          std::string(py::str(g.get_type().attr("__name__"))), ")"));
    }
    out[arg_edge_[i]] = g.cast<Tensor>();
  }
  return out;
}

// The ctx's weak handle on its node.
struct FunctionNodeRef {
  std::weak_ptr<PyFunctionNode> node;
  std::shared_ptr<PyFunctionNode> lock() const {
    auto n = node.lock();
    if (!n) throw Error(ErrorKind::Runtime, "the backward node of this Function has been freed");
    return n;
  }
};

// Called by Function.apply after forward: wraps the outputs and builds the node.
py::object function_record(py::object ctx, py::tuple args, py::object result) {
  bool executable = false;
  if (GradMode::is_enabled()) {
    for (py::handle a : args) executable |= is_tensor(a) && a.cast<Tensor>().requires_grad();
  }
  const bool is_tuple = py::isinstance<py::tuple>(result);
  py::list outs;
  if (is_tuple) {
    for (py::handle o : result) outs.append(o);
  } else {
    outs.append(result);
  }

  // save_for_backward arguments must be tensors or None.
  py::object to_save = py::getattr(ctx, "to_save", py::none());
  if (!to_save.is_none()) {
    size_t i = 0;
    for (py::handle s : to_save) {
      if (!s.is_none() && !is_tensor(s)) {
        throw Error(ErrorKind::Type, str("save_for_backward can only save variables, but argument ", i,
                                         " is of type ", std::string(py::str(s.get_type().attr("__name__")))));
      }
      ++i;
    }
  }
  // mark_dirty: inputs the forward wrote in place, which must come back as outputs; they
  // keep their identity and get the node as their new history (rebase, as in-place ops do).
  std::vector<TensorImpl*> dirty;
  py::object dirty_args = py::getattr(ctx, "dirty_tensors", py::none());
  if (!dirty_args.is_none()) {
    ctx.attr("dirty_tensors") = py::none();
    for (py::handle h : dirty_args) {
      if (!is_tensor(h)) continue;
      Tensor d = h.cast<Tensor>();
      bool returned = false;
      for (py::handle o : outs) returned |= is_tensor(o) && o.cast<Tensor>().is_same(d);
      if (!returned) {
        throw Error(ErrorKind::Runtime, "Some elements marked as dirty during the forward method were not returned "
                                        "as output. The inputs that are modified inplace must all be outputs of the "
                                        "Function.");
      }
      if (executable && d.is_leaf() && d.requires_grad()) {
        throw Error(ErrorKind::Runtime, str("a leaf Variable that requires grad has been used in an in-place "
                                            "operation. (", ctx.get_type().attr("__name__").cast<std::string>(),
                                            " marked ", tensor_desc(d), " dirty; do the update under "
                                            "ember.no_grad(), or pass a non-leaf such as x.clone())"));
      }
      dirty.push_back(d.get());
    }
  }
  for (TensorImpl* d : dirty) d->bump_version("mark_dirty");
  if (!executable) return result;

  auto node = std::make_shared<PyFunctionNode>(ctx, std::string(py::str(ctx.get_type().attr("__name__"))));
  std::vector<Tensor> inputs;
  for (py::handle a : args) {
    if (is_tensor(a)) {
      Tensor t = a.cast<Tensor>();
      node->arg_edge_.push_back(static_cast<int>(node->next_edges().size()));
      node->add_input(t);
      inputs.push_back(t);
    } else {
      node->arg_edge_.push_back(-1);
    }
  }
  node->materialize_grads_ = py::getattr(ctx, "materialize_grads", py::bool_(true)).cast<bool>();

  std::vector<TensorImpl*> non_diff;
  py::object nd = py::getattr(ctx, "non_differentiable", py::none());
  if (!nd.is_none()) {
    for (py::handle h : nd) {
      if (is_tensor(h)) non_diff.push_back(h.cast<Tensor>().get());
    }
  }

  std::vector<std::pair<TensorImpl*, Tensor>> wrapped;  // original output -> tensor with history
  NoGradGuard no_grad;
  for (size_t i = 0; i < outs.size(); ++i) {
    py::handle o = outs[i];
    if (!is_tensor(o)) {
      node->outputs_.push_back(std::nullopt);
      continue;
    }
    Tensor t = o.cast<Tensor>();
    TensorImpl* orig = t.get();
    node->outputs_.push_back(InputMeta{t.shape(), t.dtype()});
    bool is_input = false;
    for (const Tensor& in : inputs) is_input |= in.is_same(t);
    bool differentiable = std::find(non_diff.begin(), non_diff.end(), orig) == non_diff.end();
    if (std::find(dirty.begin(), dirty.end(), orig) != dirty.end()) {
      if (differentiable && is_floating(t.dtype())) detail::rebase_history(t, node, static_cast<uint32_t>(i));
      wrapped.emplace_back(orig, t);
      continue;  // outs[i] stays the caller's own tensor object
    }
    if (is_input || t.requires_grad()) t = alias(t);  // a returned input: a fresh view of it (no history, grad is off)
    if (differentiable && is_floating(t.dtype())) {
      AutogradMeta& m = t->ensure_autograd();
      m.grad_fn = node;
      m.output_nr = static_cast<uint32_t>(i);
    }
    wrapped.emplace_back(orig, t);
    outs[i] = py::cast(t);
    gc_track_tensor(outs[i]);  // ctx may hold it: a cycle through the node
  }

  if (!to_save.is_none()) {
    for (py::handle s : to_save) {
      if (s.is_none()) {
        node->saved_.emplace_back();
        continue;
      }
      Tensor t = s.cast<Tensor>();
      bool is_output = false;
      for (auto& [orig, w] : wrapped) {
        if (orig == t.get()) {
          t = w;
          is_output = w.grad_fn() == node;
        }
      }
      node->saved_.emplace_back(t, is_output);
    }
  }
  // The node holds them now; ctx keeping the output objects would be a cycle through the node.
  if (!to_save.is_none()) ctx.attr("to_save") = py::none();
  if (!nd.is_none()) ctx.attr("non_differentiable") = py::none();
  ctx.attr("_cdata") = FunctionNodeRef{node};
  if (is_tuple) return py::tuple(outs);
  return outs[0];
}

}  // namespace

int traverse_py_node(const Node& n, visitproc visit, void* arg) {
  if (auto* p = dynamic_cast<const PyFunctionNode*>(&n)) Py_VISIT(p->ctx_.ptr());
  return 0;
}

py::object node_to_py(const std::shared_ptr<Node>& n) {
  if (!n) return py::none();
  if (auto* p = dynamic_cast<PyFunctionNode*>(n.get())) return p->ctx_;
  return py::cast(n);
}

void init_function(py::module_& m) {
  py::class_<FunctionNodeRef>(m, "_FunctionNodeRef")
      .def("node", [](const FunctionNodeRef& r) { return std::static_pointer_cast<Node>(r.lock()); })
      .def("saved_tensors", [](const FunctionNodeRef& r) {
        auto n = r.lock();
        py::tuple out(n->saved_.size());
        for (size_t i = 0; i < n->saved_.size(); ++i) out[i] = py::cast(n->saved_[i].unpack_for_user(n.get()));
        return out;
      });
  m.def("_function_record", &function_record);
}

}  // namespace ember::py_bind

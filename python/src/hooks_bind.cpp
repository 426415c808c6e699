// Python callables as autograd hooks (autograd/hooks.h), their removable handles, and
// the register_* methods on Tensor and Node.
//
// The engine runs with the GIL released: every call into Python takes it, and so does
// dropping a callable. A Python exception leaves the engine as error_already_set and
// reaches the caller of backward() unchanged. The results are checked with PyTorch's
// messages.
#include "autograd/hooks.h"

#include <cstring>

#include "autograd/node.h"
#include "common.h"

namespace ember::py_bind {

namespace {

std::string hook_name(py::handle fn) {
  if (py::hasattr(fn, "__name__")) return py::str(fn.attr("__name__"));
  return "<unknown>";
}

std::string type_name(py::handle h) { return py::str(h.get_type().attr("__name__")); }

// One replaced gradient, checked as PyTorch's check_single_result does.
Tensor check_single(const Tensor& original, py::handle result, py::handle fn) {
  if (result.is_none()) return Tensor();
  if (!original.defined()) throw Error(ErrorKind::Runtime, "can't replace a None gradient with a non-None value");
  if (!is_tensor(result)) {
    throw Error(ErrorKind::Type, str("expected Variable, but hook returned '", type_name(result), "'"));
  }
  Tensor r = result.cast<Tensor>();
  if (r.dtype() != original.dtype()) {
    throw Error(ErrorKind::Runtime, str("hook '", hook_name(fn), "' has changed the type of value (was ember.",
                                        dtype_tensor_type(original.dtype()), " got ember.",
                                        dtype_tensor_type(r.dtype()), ")"));
  }
  if (r.shape() != original.shape()) {
    throw Error(ErrorKind::Runtime, str("hook '", hook_name(fn), "' has changed the size of value (was ",
                                        shape_str(original.shape()), ", got ", shape_str(r.shape()), ")"));
  }
  return r;
}

py::tuple to_tuple(const variable_list& v) {
  py::tuple t(v.size());
  for (size_t i = 0; i < v.size(); ++i) t[i] = py::cast(v[i]);
  return t;
}

// A tuple of replaced gradients (node pre- and post-hooks).
std::optional<variable_list> check_tuple(const variable_list& prev, py::handle result, py::handle fn) {
  if (result.is_none()) return std::nullopt;
  if (!py::isinstance<py::tuple>(result)) {
    throw Error(ErrorKind::Type, str("expected tuple, but hook returned '", type_name(result), "'"));
  }
  auto t = py::reinterpret_borrow<py::tuple>(result);
  if (t.size() != prev.size()) {
    throw Error(ErrorKind::Runtime, str("hook '", hook_name(fn), "' has returned an incorrect number of values (got ",
                                        t.size(), ", but expected ", prev.size(), ")"));
  }
  variable_list out(prev.size());
  for (size_t i = 0; i < prev.size(); ++i) {
    Tensor r = check_single(prev[i], t[i], fn);
    out[i] = r.defined() ? r : (t[i].is_none() ? Tensor() : prev[i]);
  }
  return out;
}

// Holds a Python callable from C++: takes the GIL to call it and to let it go.
class PyCallable {
 public:
  explicit PyCallable(py::object fn) : fn_(std::move(fn)) {}
  ~PyCallable() {
    if (!Py_IsInitialized() || _Py_IsFinalizing()) {
      fn_.release();  // the interpreter is gone: leak rather than touch it
      return;
    }
    py::gil_scoped_acquire gil;
    fn_ = py::object();
  }
  PyCallable(const PyCallable&) = delete;
  PyCallable& operator=(const PyCallable&) = delete;
  int visit(HookVisitFn v, void* arg) const { return fn_ ? v(fn_.ptr(), arg) : 0; }
  const py::object& fn() const { return fn_; }

 private:
  py::object fn_;
};

class PyTensorHook final : public TensorHook {
 public:
  explicit PyTensorHook(py::object fn) : c_(std::move(fn)) {}
  Tensor operator()(const Tensor& grad) override {
    py::gil_scoped_acquire gil;
    py::object r = c_.fn()(grad);
    return check_single(grad, r, c_.fn());
  }
  int traverse(HookVisitFn v, void* arg) override { return c_.visit(v, arg); }

 private:
  PyCallable c_;
};

class PyPreHook final : public PreHook {
 public:
  explicit PyPreHook(py::object fn) : c_(std::move(fn)) {}
  std::optional<variable_list> operator()(const variable_list& grad_outputs) override {
    py::gil_scoped_acquire gil;
    py::object r = c_.fn()(to_tuple(grad_outputs));
    return check_tuple(grad_outputs, r, c_.fn());
  }
  int traverse(HookVisitFn v, void* arg) override { return c_.visit(v, arg); }

 private:
  PyCallable c_;
};

class PyPostHook final : public PostHook {
 public:
  explicit PyPostHook(py::object fn) : c_(std::move(fn)) {}
  std::optional<variable_list> operator()(const variable_list& grad_inputs,
                                          const variable_list& grad_outputs) override {
    py::gil_scoped_acquire gil;
    py::object r = c_.fn()(to_tuple(grad_inputs), to_tuple(grad_outputs));
    return check_tuple(grad_inputs, r, c_.fn());
  }
  int traverse(HookVisitFn v, void* arg) override { return c_.visit(v, arg); }

 private:
  PyCallable c_;
};

class PyPostAccumulateGradHook final : public PostAccumulateGradHook {
 public:
  explicit PyPostAccumulateGradHook(py::object fn) : c_(std::move(fn)) {}
  void operator()(const Tensor& leaf) override {
    py::gil_scoped_acquire gil;
    py::object r = c_.fn()(leaf);
    if (!r.is_none() && !is_tensor(r)) {  // PyTorch ignores a returned tensor
      throw Error(ErrorKind::Type, str("expected Variable, but hook returned '", type_name(r), "'"));
    }
  }
  int traverse(HookVisitFn v, void* arg) override { return c_.visit(v, arg); }

 private:
  PyCallable c_;
};

// torch.utils.hooks.RemovableHandle's role: remove() drops exactly one hook. It refers to
// the hook's owner weakly, so a kept handle keeps nothing alive.
struct HookHandle {
  enum class Kind { LeafTensor, LeafPostAccumulate, NodeTensor, NodePre, NodePost };
  Kind kind;
  uint64_t id;
  std::weak_ptr<TensorImpl> leaf;
  std::weak_ptr<Node> node;

  void remove() const {
    if (auto t = leaf.lock()) {
      auto* m = t->autograd();
      if (!m || !m->hooks) return;
      if (kind == Kind::LeafTensor) m->hooks->tensor_pre.remove(id);
      else m->hooks->post_accumulate.remove(id);
    } else if (auto n = node.lock()) {
      NodeHooks* h = n->hooks();
      if (!h) return;
      if (kind == Kind::NodeTensor) h->tensor_pre.remove(id);
      else if (kind == Kind::NodePre) h->pre.remove(id);
      else h->post.remove(id);
    }
  }
};

void check_can_hook(const Tensor& t) {
  if (!t.requires_grad()) {
    throw Error(ErrorKind::Runtime, "cannot register a hook on a tensor that doesn't require gradient");
  }
}

LeafHooks& leaf_hooks_of(const Tensor& t) {
  AutogradMeta& m = t->ensure_autograd();
  if (!m.hooks) m.hooks = std::make_unique<LeafHooks>();
  return *m.hooks;
}

HookHandle register_tensor_hook(const Tensor& t, py::object fn) {
  check_can_hook(t);
  auto hook = std::make_shared<PyTensorHook>(std::move(fn));
  if (t.is_leaf()) {
    uint64_t id = leaf_hooks_of(t).tensor_pre.add(std::move(hook));
    return {HookHandle::Kind::LeafTensor, id, t.impl(), {}};
  }
  const auto& fn_node = t.grad_fn();
  uint64_t id = fn_node->ensure_hooks().tensor_pre.add(std::move(hook), t.output_nr());
  return {HookHandle::Kind::NodeTensor, id, {}, fn_node};
}

HookHandle register_post_accumulate_hook(const Tensor& t, py::object fn) {
  check_can_hook(t);
  if (!t.is_leaf()) {
    throw Error(ErrorKind::Runtime, "post accumulate grad hooks cannot be registered on non-leaf tensors");
  }
  uint64_t id = leaf_hooks_of(t).post_accumulate.add(std::make_shared<PyPostAccumulateGradHook>(std::move(fn)));
  return {HookHandle::Kind::LeafPostAccumulate, id, t.impl(), {}};
}

}  // namespace

// ---- garbage collection
//
// A hook that refers to its own tensor (x.register_hook(lambda g: g * x)) makes a cycle
// through C++: Python object -> TensorImpl -> hooks -> callable -> Python object. Tensor's
// tp_traverse reports those callables, as PyTorch's THPVariable traverse does, but only
// when this Python object is the only owner of the TensorImpl (and the tensor the only
// owner of its grad_fn): otherwise something outside Python keeps them alive and the
// collector must not consider them garbage.

namespace {

struct VisitArg {
  visitproc visit;
  void* arg;
};

int visit_trampoline(void* object, void* arg) {
  auto* va = static_cast<VisitArg*>(arg);
  return va->visit(static_cast<PyObject*>(object), va->arg);
}

// The holder of a pybind11 object (a Tensor or a Node) if the object is its only owner.
template <typename T>
const std::shared_ptr<T>* sole_holder(PyObject* self) {
  auto vh = reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder();
  if (!vh.holder_constructed()) return nullptr;
  const auto& h = vh.holder<std::shared_ptr<T>>();
  return h && h.use_count() == 1 ? &h : nullptr;
}

int tensor_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  const auto* impl = sole_holder<TensorImpl>(self);
  if (!impl) return 0;
  AutogradMeta* m = (*impl)->autograd();
  if (!m) return 0;
  VisitArg va{visit, arg};
  if (m->hooks) {
    if (int r = m->hooks->tensor_pre.traverse(&visit_trampoline, &va)) return r;
    if (int r = m->hooks->post_accumulate.traverse(&visit_trampoline, &va)) return r;
  }
  if (m->grad_fn && m->grad_fn.use_count() == 1) {
    if (NodeHooks* h = m->grad_fn->hooks()) {
      if (int r = h->tensor_pre.traverse(&visit_trampoline, &va)) return r;
      if (int r = h->pre.traverse(&visit_trampoline, &va)) return r;
      if (int r = h->post.traverse(&visit_trampoline, &va)) return r;
    }
    if (int r = traverse_py_node(*m->grad_fn, visit, arg)) return r;
  }
  return 0;
}

int tensor_clear(PyObject* self) {
  const auto* impl = sole_holder<TensorImpl>(self);
  if (!impl) return 0;
  AutogradMeta* m = (*impl)->autograd();
  if (!m) return 0;
  m->hooks.reset();
  if (m->grad_fn && m->grad_fn.use_count() == 1 && m->grad_fn->hooks()) *m->grad_fn->hooks() = NodeHooks();
  return 0;
}

// The Python object of a C++ node (y.grad_fn) makes the same kind of cycle when a hook on
// the node refers to it (n.register_hook(lambda gi, go: n ...)): Python object -> Node ->
// hooks -> callable -> Python object. Its traverse reports the node's hooks when it is
// the node's only owner (as for tensors: the tensor whose grad_fn it is would otherwise
// keep it alive from outside the collector's view).

int node_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  const auto* n = sole_holder<Node>(self);
  if (!n) return 0;
  VisitArg va{visit, arg};
  if (NodeHooks* h = (*n)->hooks()) {
    if (int r = h->tensor_pre.traverse(&visit_trampoline, &va)) return r;
    if (int r = h->pre.traverse(&visit_trampoline, &va)) return r;
    if (int r = h->post.traverse(&visit_trampoline, &va)) return r;
  }
  return traverse_py_node(**n, visit, arg);
}

int node_clear(PyObject* self) {
  const auto* n = sole_holder<Node>(self);
  if (n && (*n)->hooks()) *(*n)->hooks() = NodeHooks();
  return 0;
}

}  // namespace

void tensor_gc_setup(PyHeapTypeObject* heap_type) {
  PyTypeObject* type = &heap_type->ht_type;
  type->tp_flags |= Py_TPFLAGS_HAVE_GC;
  type->tp_traverse = &tensor_traverse;
  type->tp_clear = &tensor_clear;
  type->tp_alloc = &tensor_alloc;      // tensor_object.cpp
  type->tp_dealloc = &tensor_dealloc;
}

void node_gc_setup(PyHeapTypeObject* heap_type) {
  PyTypeObject* type = &heap_type->ht_type;
  type->tp_flags |= Py_TPFLAGS_HAVE_GC;
  type->tp_traverse = &node_traverse;
  type->tp_clear = &node_clear;
}

void gc_track_tensor(py::handle h) {
  if (h && PyObject_IS_GC(h.ptr()) && !PyObject_GC_IsTracked(h.ptr())) PyObject_GC_Track(h.ptr());
}

void init_hooks(py::module_& m) {
  py::class_<HookHandle>(m, "RemovableHandle")
      .def_readonly("id", &HookHandle::id)
      .def("remove", &HookHandle::remove)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](const HookHandle& h, py::args) { h.remove(); });

  auto tensor = py::reinterpret_borrow<TensorClass>(m.attr("Tensor"));
  tensor.def("register_hook", [](py::handle self, py::object fn) {
    gc_track_tensor(self);
    return register_tensor_hook(self.cast<Tensor>(), std::move(fn));
  }, py::arg("hook"));
  tensor.def("register_post_accumulate_grad_hook", [](py::handle self, py::object fn) {
    gc_track_tensor(self);
    return register_post_accumulate_hook(self.cast<Tensor>(), std::move(fn));
  }, py::arg("hook"));

  auto node = py::reinterpret_borrow<py::class_<Node, std::shared_ptr<Node>>>(m.attr("Node"));
  node.def("register_hook", [](const std::shared_ptr<Node>& n, py::object fn) {
    uint64_t id = n->ensure_hooks().post.add(std::make_shared<PyPostHook>(std::move(fn)));
    return HookHandle{HookHandle::Kind::NodePost, id, {}, n};
  }, py::arg("fn"));
  node.def("register_prehook", [](const std::shared_ptr<Node>& n, py::object fn) {
    uint64_t id = n->ensure_hooks().pre.add(std::make_shared<PyPreHook>(std::move(fn)));
    return HookHandle{HookHandle::Kind::NodePre, id, {}, n};
  }, py::arg("fn"));
}

}  // namespace ember::py_bind

// The Tensor class: attributes, methods, operators and indexing.
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "common.h"

namespace ember::py_bind {

namespace {

const char* const kNonLeafGradWarning =
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be "
    "populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf Tensor, "
    "use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you access the "
    "leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more informations.";

Tensor get_grad(const Tensor& t) {
  auto* m = t->autograd();
  if (!t.is_leaf() && !(m && m->retains_grad)) {
    if (PyErr_WarnEx(PyExc_UserWarning, kNonLeafGradWarning, 1) < 0) throw py::error_already_set();
  }
  return m ? m->grad : Tensor();
}

void set_grad(const Tensor& t, py::handle value) {
  AutogradMeta& m = t->ensure_autograd();
  if (value.is_none()) {
    m.grad = Tensor();
    return;
  }
  Tensor g;
  if (!is_tensor(value)) {
    throw Error(ErrorKind::Type, str("assigned grad expected to be a Tensor or None but got grad of type ",
                                     std::string(py::str(value.get_type().attr("__name__")))));
  }
  g = value.cast<Tensor>();
  if (g.dtype() != t.dtype()) {
    throw Error(ErrorKind::Runtime, str("attempting to assign a gradient with dtype '", dtype_name(g.dtype()),
                                        "' to a tensor with grad_dtype '", dtype_name(t.dtype()),
                                        "'. The gradient must match the tensor's dtype."));
  }
  if (g.shape() != t.shape()) {
    throw Error(ErrorKind::Runtime, str("attempting to assign a gradient of size '", shape_str(g.shape()),
                                        "' to a tensor of size '", shape_str(t.shape()),
                                        "'. Please ensure that the gradient and the tensor are the same size"));
  }
  m.grad = g;
}

// PyTorch's texts differ by entry point: requires_grad_() says "floating point dtype", the
// attribute setter "floating point and complex dtype".
void set_requires_grad(const Tensor& t, bool value, bool setter = false) {
  if (!t.is_leaf()) {
    if (!value) {
      throw Error(ErrorKind::Runtime, str("you can only change requires_grad flags of leaf variables. If you want to "
                                          "use a computed variable in a subgraph that doesn't require differentiation "
                                          "use var_no_grad = var.detach(). (tensor ", tensor_desc(t), " has grad_fn=",
                                          t.grad_fn()->name(), ")"));
    }
    if (setter) {  // PyTorch: `.requires_grad = True` on a non-leaf raises, requires_grad_(True) does not
      throw Error(ErrorKind::Runtime, str("you can only change requires_grad flags of leaf variables. (tensor ",
                                          tensor_desc(t), " has grad_fn=", t.grad_fn()->name(), ")"));
    }
    return;
  }
  if (value && !is_floating(t.dtype())) {
    throw Error(ErrorKind::Runtime, str(setter ? "only Tensors of floating point and complex dtype"
                                               : "only Tensors of floating point dtype",
                                        " can require gradients (got ", dtype_name(t.dtype()), ")"));
  }
  if (!value && !t->autograd()) return;
  t->ensure_autograd().requires_grad = value;
}

void retain_grad(const Tensor& t) {
  if (!t.requires_grad()) {
    throw Error(ErrorKind::Runtime, "can't retain_grad on Tensor that has requires_grad=False");
  }
  if (t.is_leaf()) return;  // leaves keep .grad anyway
  AutogradMeta& m = t->ensure_autograd();
  if (m.retains_grad) return;
  m.retains_grad = true;
  m.grad_fn->retained.emplace_back(m.output_nr, t.impl());
}

void backward(const Tensor& self, py::handle gradient, py::handle retain_graph, bool create_graph, py::handle inputs) {
  Tensor g;
  if (!gradient.is_none()) {
    if (!is_tensor(gradient)) {
      throw Error(ErrorKind::Type, str("gradients can be either Tensors or None, but got ",
                                       std::string(py::str(gradient.get_type().attr("__name__")))));
    }
    g = gradient.cast<Tensor>();
  }
  BackwardOptions opts;
  opts.create_graph = create_graph;
  opts.keep_graph = retain_graph.is_none() ? create_graph : retain_graph.cast<bool>();
  EMBER_CHECK_KIND(inputs.is_none(), ErrorKind::NotImplemented,
                   "backward(inputs=...) is not supported yet; use ember.autograd.grad(outputs, inputs)");
  SiteScope site(capture_site());  // nodes made by a create_graph backward, and the error texts, name this call
  py::gil_scoped_release release;
  run_backward({self}, {g}, opts);
}

// ---------------------------------------------------------------- indexing

int64_t as_index(py::handle h) {
  PyObject* i = PyNumber_Index(h.ptr());
  if (!i) throw py::error_already_set();
  return py::reinterpret_steal<py::int_>(i).cast<int64_t>();
}

bool is_int_index(py::handle h) {
  // numpy arrays define __index__ too; only a 0-d one is an integer index.
  if (py::isinstance<py::array>(h) && py::reinterpret_borrow<py::array>(h).ndim() > 0) return false;
  if (is_tensor(h)) {  // a 0-d integer tensor selects, as in PyTorch
    Tensor t = h.cast<Tensor>();
    return t.dim() == 0 && t.dtype() == DType::Int64;
  }
  return !PyBool_Check(h.ptr()) && PyIndex_Check(h.ptr());
}

// Applies basic indexing (ints, slices, Ellipsis, None) as a chain of views.
Tensor index(const Tensor& self, py::handle idx) {
  std::vector<py::handle> items;
  py::tuple tup;
  if (py::isinstance<py::tuple>(idx)) {
    tup = py::reinterpret_borrow<py::tuple>(idx);
    for (py::handle h : tup) items.push_back(h);
  } else {
    items.push_back(idx);
  }
  int64_t consumed = 0;
  bool has_ellipsis = false;
  for (py::handle h : items) {
    if (h.ptr() == Py_Ellipsis) {
      if (has_ellipsis) throw Error(ErrorKind::Index, "an index can only have a single ellipsis ('...')");
      has_ellipsis = true;
    } else if (is_int_index(h) || PySlice_Check(h.ptr())) {
      ++consumed;
    } else if (h.is_none()) {
    } else if (is_tensor(h) || py::isinstance<py::list>(h) ||
               py::isinstance<py::array>(h) || PyBool_Check(h.ptr())) {
      throw Error(ErrorKind::Index, str("ember supports basic indexing only (integers, slices, ..., None); "
                                        "indexing with ", std::string(py::str(h.get_type().attr("__name__"))),
                                        " (advanced indexing) is not supported yet"));
    } else {
      // PyTorch raises TypeError for a str index (it tries to make a tensor of it), IndexError otherwise.
      throw Error(PyUnicode_Check(h.ptr()) ? ErrorKind::Type : ErrorKind::Index,
                  str("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                      "Variables are valid indices (got ",
                      std::string(py::str(h.get_type().attr("__name__"))), ")"));
    }
  }
  if (self.dim() == 0 && consumed > 0) {
    throw Error(ErrorKind::Index, "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                                  "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number");
  }
  if (consumed > self.dim()) {
    throw Error(ErrorKind::Index, str("too many indices for tensor of dimension ", self.dim(), " (got ", consumed,
                                      " indices for shape ", shape_str(self.shape()), ")"));
  }
  Tensor r = self;
  int64_t dim = 0;
  int64_t src_dim = 0;  // the dim of `self` this item indexes, for error messages
  bool changed = false;
  for (py::handle h : items) {
    if (h.ptr() == Py_Ellipsis) {
      dim += self.dim() - consumed;
      src_dim += self.dim() - consumed;
    } else if (h.is_none()) {
      r = unsqueeze(r, dim);
      ++dim;
      changed = true;
    } else if (PySlice_Check(h.ptr())) {
      PySliceObject* s = reinterpret_cast<PySliceObject*>(h.ptr());
      std::optional<int64_t> start, stop;
      int64_t step = 1;
      if (s->start != Py_None) start = as_index(s->start);
      if (s->stop != Py_None) stop = as_index(s->stop);
      if (s->step != Py_None) step = as_index(s->step);
      if (step <= 0) throw Error(ErrorKind::Value, "step must be greater than zero");
      const int64_t size = r.shape()[dim];
      // A slice covering the whole dim is skipped, as in PyTorch, unless it is the whole index (x[:]).
      // PyTorch tests the bounds as written: x[:, -n:] and, on an empty dim, x[:, :-1] are
      // SliceBackward0 although they cover it all; a stop past the end still skips.
      const bool covers = start.value_or(0) == 0 && (!stop || *stop >= size) && step == 1;
      if (!covers || !py::isinstance<py::tuple>(idx)) {
        r = slice(r, dim, start, stop, step);
        changed = true;
      }
      ++dim;
      ++src_dim;
    } else {
      int64_t i = as_index(h), size = r.shape()[dim];
      if (i < -size || i >= size) {
        throw Error(ErrorKind::Index, str("index ", i, " is out of bounds for dimension ", src_dim, " with size ", size));
      }
      r = select(r, dim, i);
      ++src_dim;
      changed = true;
    }
  }
  if (!changed) r = alias(self);
  return r;
}

void set_index(Tensor& self, py::handle idx, py::handle value) {
  Tensor view = index(self, idx);
  Scalar s;
  if (try_scalar(value, s)) {
    fill_(view, s);
  } else if (is_tensor(value)) {
    copy_(view, value.cast<Tensor>());
  } else {
    Tensor src = tensor_from_data(value, self.dtype());
    copy_(view, src);
  }
}

}  // namespace

void init_tensor(py::module_& m) {
  using T = const Tensor&;
  py::class_<TensorImpl, std::shared_ptr<TensorImpl>> cls(m, "Tensor", py::buffer_protocol(),
                                                          py::custom_type_setup(&tensor_gc_setup));
  install_tensor_objects();
  cls.def(py::init([](py::handle data) { return tensor_from_data(data, DType::Float32).impl(); }), py::arg("data"));
  cls.def_buffer([](TensorImpl& impl) { return buffer_of(impl); });

  // ---- layout
  cls.def_property_readonly("shape", [](T t) { return to_size(t.shape()); });
  cls.def("size", [](T t, std::optional<int64_t> dim) -> py::object {
        if (!dim) return to_size(t.shape());
        return py::int_(t.size(*dim));
      }, py::arg("dim") = py::none());
  cls.def("dim", [](T t) { return t.dim(); });
  cls.def("ndimension", [](T t) { return t.dim(); });
  cls.def_property_readonly("ndim", [](T t) { return t.dim(); });
  cls.def("numel", [](T t) { return t.numel(); });
  cls.def("nelement", [](T t) { return t.numel(); });
  cls.def_property_readonly("dtype", [](T t) { return t.dtype(); });
  cls.def("stride", [](T t, std::optional<int64_t> dim) -> py::object {
        if (!dim) return py::tuple(py::cast(std::vector<int64_t>(t.strides().begin(), t.strides().end())));
        return py::int_(t.strides()[wrap_dim(*dim, t.dim(), "stride")]);
      }, py::arg("dim") = py::none());
  cls.def("storage_offset", [](T t) { return t.offset(); });
  cls.def("data_ptr", [](T t) { return reinterpret_cast<uintptr_t>(t.raw_data()); });
  cls.def("element_size", [](T t) { return itemsize(t.dtype()); });
  cls.def("is_contiguous", [](T t) { return t.is_contiguous(); });
  cls.def("is_floating_point", [](T t) { return is_floating(t.dtype()); });
  cls.def_property_readonly("_version", [](T t) { return t.version(); });
  cls.def_property_readonly("_base", [](T t) -> py::object {
    if (!t->is_view()) return py::none();
    return py::cast(t->view_base());
  });
  cls.def("__len__", [](T t) {
    if (t.dim() == 0) throw Error(ErrorKind::Type, "len() of a 0-d tensor");
    return t.shape()[0];
  });
  cls.def("__hash__", [](py::handle self) { return reinterpret_cast<intptr_t>(self.ptr()) >> 4; });

  // ---- autograd attributes
  cls.def_property("requires_grad", [](T t) { return t.requires_grad(); }, [](T t, bool v) { set_requires_grad(t, v, true); });
  cls.def("requires_grad_", [](T t, bool v) { set_requires_grad(t, v); return t; }, py::arg("requires_grad") = true);
  cls.def_property("grad", [](T t) { return get_grad(t); }, [](T t, py::handle v) { set_grad(t, v); });
  cls.def_property_readonly("grad_fn", [](py::handle self) {
    gc_track_tensor(self);  // node hooks may be registered through it
    return node_to_py(self.cast<Tensor>().grad_fn());
  });
  cls.def_property_readonly("is_leaf", [](T t) { return t.is_leaf(); });
  cls.def_property_readonly("retains_grad", [](T t) { return !t.is_leaf() && t->autograd() && t->autograd()->retains_grad; });
  cls.def_property_readonly("output_nr", [](T t) { return t.output_nr(); });
  cls.def("retain_grad", [](T t) { retain_grad(t); });
  cls.def("detach", [](T t) { return detach(t); });
  cls.def("detach_", [](T t) { detach_(t); return t; });
  cls.def("backward", &backward, py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(),
          py::arg("create_graph") = false, py::arg("inputs") = py::none());
  cls.def_property("data", [](T t) { return detach(t); }, [](T t, T src) {
    throw Error(ErrorKind::NotImplemented, "assigning to .data is not supported by ember; use `with ember.no_grad(): t.copy_(src)`");
  });

  // ---- conversion
  cls.def("item", [](T t) { return item(t); });
  cls.def("tolist", [](T t) { return tolist(t); });
  cls.def("_is_wrapped_number", [](T t) { return t->is_wrapped_number; });

  // ---- indexing
  cls.def("__getitem__", [](T t, py::handle idx) { return index(t, idx); });
  cls.def("__setitem__", [](Tensor t, py::handle idx, py::handle value) { set_index(t, idx, value); });
  init_ops(m, cls);
}

}  // namespace ember::py_bind

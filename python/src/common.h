// Conversions shared by the binding files: Tensor and DType casters, Python numbers
// as operands, size arguments. No op logic lives in python/src.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "autograd/source_site.h"
#include "core/error.h"
#include "core/tensor.h"
#include "ops/ops.h"

namespace py = pybind11;

namespace ember::py_bind {

// The Python-visible dtype objects (ember.float32 ...), one per DType.
struct DTypeObject {
  DType value;
};
DTypeObject* dtype_object(DType t);

// ember.Size, installed by python/ember/__init__.py.
py::object& size_class();
py::tuple to_size(const Shape& s);

// The Python type of ember.Tensor, looked up once (py::type::of searches a hash map).
PyTypeObject* tensor_type();
inline bool is_tensor(py::handle h) { return PyObject_TypeCheck(h.ptr(), tensor_type()); }
// The TensorImpl holder inside an exact ember.Tensor instance (no pybind11 lookups);
// null when `h` is not an initialised exact Tensor (then use the generic caster).
inline const std::shared_ptr<TensorImpl>* tensor_holder(PyObject* h) {
  if (Py_TYPE(h) != tensor_type()) return nullptr;
  auto vh = reinterpret_cast<py::detail::instance*>(h)->get_value_and_holder();
  if (!vh.holder_constructed()) return nullptr;
  return &vh.holder<std::shared_ptr<TensorImpl>>();
}

// A Python operand of a binary op: a Tensor, or a number wrapped as a 0-dim tensor.
// Returns false (no exception) when `h` is neither.
bool try_operand(py::handle h, Tensor& out);
Tensor operand(py::handle h, const char* op);
// A Python number as a Scalar; false if `h` is not a number.
bool try_scalar(py::handle h, Scalar& out);
Scalar scalar(py::handle h, const char* op);

// Sizes from varargs or one sequence: f(2, 3) and f((2, 3)) alike.
std::vector<int64_t> sizes_from_args(const py::args& args, const char* op);
std::vector<int64_t> int_list(py::handle h, const char* op);
// dim=None / int / tuple of ints; empty result means "all dims".
std::vector<int64_t> dims_arg(py::handle h, const char* op);

// Runs f with the GIL released when the work is large enough to be worth it. Without
// the GIL the caller's frame can't be read: its site is captured first (source_site.h).
template <typename F>
auto maybe_without_gil(int64_t work, F&& f) -> decltype(f()) {
  if (work >= (int64_t{1} << 15)) {
    SiteScope site(capture_site());
    py::gil_scoped_release release;
    return f();
  }
  return f();
}

void init_dtype(py::module_& m);
void init_tensor(py::module_& m);
using TensorClass = py::class_<TensorImpl, std::shared_ptr<TensorImpl>>;
void init_ops(py::module_& m, TensorClass& cls);
void init_autograd(py::module_& m);
void init_hooks(py::module_& m);     // hooks_bind.cpp, after init_tensor and init_autograd
void init_function(py::module_& m);  // function_bind.cpp (autograd.Function), after init_hooks
// Makes Tensor a GC type whose traverse reports the Python objects its autograd state
// keeps alive (hooks, custom Function contexts), so cycles through them are collected.
void tensor_gc_setup(PyHeapTypeObject* heap_type);
// The same for the Python objects of nodes (grad_fn): hooks on a node that refer to it.
void node_gc_setup(PyHeapTypeObject* heap_type);
// Tensor objects (tensor_object.cpp): the Python object of a tensor, found through
// TensorImpl::binding_object or made without pybind11's instance registry; the type's
// allocator and deallocator; install_tensor_objects runs once the class exists.
PyObject* tensor_object(const Tensor& t);  // new reference
PyObject* tensor_alloc(PyTypeObject* type, Py_ssize_t nitems);
void tensor_dealloc(PyObject* self);
void install_tensor_objects();
// Has the collector track this Tensor object (see hooks_bind.cpp for when and why).
void gc_track_tensor(py::handle h);
// Visits the Python objects a Python-defined node (autograd.Function) owns; 0 for others.
int traverse_py_node(const Node& n, visitproc visit, void* arg);
// A node as Python sees it: the ctx object for a Function's node, the bound Node otherwise.
py::object node_to_py(const std::shared_ptr<Node>& n);
void init_convert(py::module_& m);
void init_backend(py::module_& m);
void init_interrupt(py::module_& m);  // interrupt_bind.cpp: Ctrl-C in long kernels
// Raises (PyErr_Restore) the error a signal handler raised during the op that is now
// unwinding; false if there is none.
bool restore_interrupt();
void init_sites(py::module_& m);  // site_bind.cpp: the SiteRecorder, first of all
// "train.py:12" for where the user's code created `n`, if known.
std::optional<std::string> creation_site(const Node& n);

// Python data (nested sequences, numbers, numpy arrays, tensors) to a new tensor.
Tensor tensor_from_data(py::handle data, std::optional<DType> dtype);
Tensor from_numpy(py::array arr);
py::object tolist(const Tensor& t);
py::object item(const Tensor& t);
py::buffer_info buffer_of(const TensorImpl& t);

}  // namespace ember::py_bind

namespace pybind11::detail {

template <>
struct type_caster<ember::Tensor> {
  PYBIND11_TYPE_CASTER(ember::Tensor, const_name("Tensor"));
  bool load(handle src, bool convert) {
    if (const auto* h = ember::py_bind::tensor_holder(src.ptr())) {  // fast path: exact type
      value = ember::Tensor(*h);
      return true;
    }
    make_caster<std::shared_ptr<ember::TensorImpl>> inner;
    if (src.is_none() || !inner.load(src, convert)) return false;
    value = ember::Tensor(cast_op<std::shared_ptr<ember::TensorImpl>>(inner));
    return true;
  }
  static handle cast(const ember::Tensor& t, return_value_policy, handle parent) {
    if (!t.defined()) return none().release();
    return ember::py_bind::tensor_object(t);
  }
};

template <>
struct type_caster<ember::DType> {
  PYBIND11_TYPE_CASTER(ember::DType, const_name("dtype"));
  bool load(handle src, bool) {
    if (src.ptr() == reinterpret_cast<PyObject*>(&PyFloat_Type)) value = ember::DType::Float64;
    else if (src.ptr() == reinterpret_cast<PyObject*>(&PyLong_Type)) value = ember::DType::Int64;
    else if (src.ptr() == reinterpret_cast<PyObject*>(&PyBool_Type)) value = ember::DType::Bool;
    else {
      make_caster<ember::py_bind::DTypeObject> inner;
      if (src.is_none() || !inner.load(src, false)) return false;
      value = cast_op<ember::py_bind::DTypeObject&>(inner).value;
    }
    return true;
  }
  static handle cast(ember::DType t, return_value_policy, handle parent) {
    return make_caster<ember::py_bind::DTypeObject*>::cast(ember::py_bind::dtype_object(t),
                                                          return_value_policy::reference, parent);
  }
};

}  // namespace pybind11::detail

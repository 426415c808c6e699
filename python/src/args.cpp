// Argument conversion helpers (see common.h).
#include "common.h"

namespace ember::py_bind {

PyTypeObject* tensor_type() {
  static PyTypeObject* t = reinterpret_cast<PyTypeObject*>(py::type::of<TensorImpl>().ptr());
  return t;
}

bool try_scalar(py::handle h, Scalar& out) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) {
    out = Scalar::from_bool(o == Py_True);
    return true;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) throw Error(ErrorKind::Runtime, "Overflow when unpacking long: the integer does not fit in int64");
    out = Scalar(static_cast<int64_t>(v));
    return true;
  }
  if (PyFloat_Check(o)) {
    out = Scalar(PyFloat_AS_DOUBLE(o));
    return true;
  }
  // numpy scalars (np.float32(2), np.int64(3), np.bool_) behave like Python numbers.
  if (o == Py_None || is_tensor(h)) return false;  // the common non-numbers, without attribute lookups
  if (py::hasattr(h, "dtype") && py::hasattr(h, "item") && !py::isinstance<py::array>(h) &&
      !is_tensor(h)) {
    py::object v = h.attr("item")();
    if (PyBool_Check(v.ptr()) || PyLong_Check(v.ptr()) || PyFloat_Check(v.ptr())) return try_scalar(v, out);
  }
  return false;
}

Scalar scalar(py::handle h, const char* op) {
  Scalar s;
  if (!try_scalar(h, s)) {
    throw Error(ErrorKind::Type, str(op, "(): argument must be a number, not '",
                                     std::string(py::str(h.get_type().attr("__name__"))), "'"));
  }
  return s;
}

bool try_operand(py::handle h, Tensor& out) {
  if (const auto* p = tensor_holder(h.ptr())) {
    out = Tensor(*p);
    return true;
  }
  if (is_tensor(h)) {
    out = h.cast<Tensor>();
    return true;
  }
  Scalar s;
  if (try_scalar(h, s)) {
    out = wrapped_scalar(s);
    return true;
  }
  return false;
}

Tensor operand(py::handle h, const char* op) {
  Tensor t;
  if (!try_operand(h, t)) {
    throw Error(ErrorKind::Type, str(op, "(): argument 'other' must be Tensor or Number, not ",
                                     std::string(py::str(h.get_type().attr("__name__")))));
  }
  return t;
}

std::vector<int64_t> int_list(py::handle h, const char* op) {
  std::vector<int64_t> out;
  if (PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr())) {
    out.push_back(h.cast<int64_t>());
    return out;
  }
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h)) {
    throw Error(ErrorKind::Type, str(op, "(): argument 'size' must be tuple of ints, but found element of type ",
                                     std::string(py::str(h.get_type().attr("__name__")))));
  }
  for (py::handle e : py::reinterpret_borrow<py::sequence>(h)) {
    if (!PyIndex_Check(e.ptr()) || PyBool_Check(e.ptr()) || PyFloat_Check(e.ptr())) {
      throw Error(ErrorKind::Type, str(op, "(): argument 'size' must be tuple of ints, but found element of type ",
                                       std::string(py::str(e.get_type().attr("__name__")))));
    }
    out.push_back(py::reinterpret_steal<py::int_>(PyNumber_Index(e.ptr())).cast<int64_t>());
  }
  return out;
}

std::vector<int64_t> sizes_from_args(const py::args& args, const char* op) {
  // x.view() / x.reshape() / x.expand() / x.permute(): PyTorch's TypeError (x.view(()) is fine)
  if (args.empty()) throw Error(ErrorKind::Type, str(op, "() missing 1 required positional arguments"));
  if (args.size() == 1 && !PyLong_Check(args[0].ptr())) return int_list(args[0], op);
  std::vector<int64_t> out;
  for (py::handle e : args) {
    if (!PyIndex_Check(e.ptr()) || PyBool_Check(e.ptr())) {
      throw Error(ErrorKind::Type, str(op, "(): argument 'size' must be tuple of ints, but found element of type ",
                                       std::string(py::str(e.get_type().attr("__name__")))));
    }
    out.push_back(py::reinterpret_steal<py::int_>(PyNumber_Index(e.ptr())).cast<int64_t>());
  }
  return out;
}

std::vector<int64_t> dims_arg(py::handle h, const char* op) {
  if (h.is_none()) return {};
  return int_list(h, op);
}

}  // namespace ember::py_bind

// Python data <-> tensors: nested sequences, numbers, numpy arrays, the buffer protocol.
#include <cstring>

#include "common.h"

namespace ember::py_bind {

namespace {

py::module_& numpy() {
  static py::module_* np = new py::module_(py::module_::import("numpy"));
  return *np;
}

// Walks nested sequences: records the shape and the widest element kind.
struct Scan {
  Shape shape;
  int kind = -1;  // 0 bool, 1 int, 2 float (as DType order)
  DType widest = DType::Bool;
};

void scan(py::handle h, size_t depth, Scan& s) {
  if (py::isinstance<py::bool_>(h) || py::isinstance<py::int_>(h) || py::isinstance<py::float_>(h) ||
      (py::hasattr(h, "dtype") && py::hasattr(h, "item") && !py::isinstance<py::array>(h) && !is_tensor(h))) {
    if (depth != s.shape.size()) {
      // PyTorch raises TypeError ("not a sequence") when a number stands where a sequence was.
      throw Error(ErrorKind::Type, str("not a sequence: expected sequence of length ", s.shape[depth], " at dim ", depth,
                                       " (got a number)"));
    }
    DType t = py::isinstance<py::bool_>(h) ? DType::Bool
              : py::isinstance<py::float_>(h) ? DType::Float32
              : py::isinstance<py::int_>(h) ? DType::Int64
                                            : DType::Float32;
    if (py::hasattr(h, "dtype") && py::hasattr(h, "item")) {
      // numpy scalar (np.float64 is also a Python float): its dtype decides, as in PyTorch
      std::string kind = py::str(h.attr("dtype").attr("kind"));
      bool f64 = kind == "f" && h.attr("dtype").attr("itemsize").cast<int>() == 8;
      t = kind == "b" ? DType::Bool
          : (kind == "i" || kind == "u") ? DType::Int64
          : f64 ? DType::Float64 : DType::Float32;
      if (kind != "b" && kind != "i" && kind != "u" && kind != "f") {
        throw Error(ErrorKind::Type, str("can't convert a numpy scalar of type ", std::string(py::str(h.attr("dtype"))),
                                         " to a tensor element"));
      }
    }
    s.widest = s.kind < 0 ? t : promote(s.widest, t);
    s.kind = 1;
    return;
  }
  if (is_tensor(h)) {
    Tensor t = h.cast<Tensor>();
    EMBER_CHECK_VALUE(t.numel() == 1 && t.dim() == 0 || depth == s.shape.size(),
                      "only one element tensors can be converted to Python scalars");
    s.widest = s.kind < 0 ? t.dtype() : promote(s.widest, t.dtype());
    s.kind = 1;
    return;
  }
  if (py::isinstance<py::str>(h) && depth > 0 && depth == s.shape.size() && s.kind < 0) {
    // PyTorch's wording when the first element it meets is a string (it takes it for a sequence).
    throw Error(ErrorKind::Value, "too many dimensions 'str' (ember.tensor accepts numbers, nested sequences of "
                                  "numbers, numpy arrays and tensors)");
  }
  if (!py::isinstance<py::str>(h) && !py::isinstance<py::bytes>(h) && !py::isinstance<py::sequence>(h)) {
    throw Error(ErrorKind::Runtime, str("Could not infer dtype of ", std::string(py::str(h.get_type().attr("__name__"))),
                                        " (ember.tensor accepts numbers, nested sequences of numbers, numpy arrays "
                                        "and tensors)"));
  }
  if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h)) {
    throw Error(ErrorKind::Type, str("new(): invalid data type '", std::string(py::str(h.get_type().attr("__name__"))),
                                     "' (ember.tensor accepts numbers, nested sequences of numbers, numpy arrays "
                                     "and tensors)"));
  }
  py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
  int64_t n = static_cast<int64_t>(py::len(seq));
  if (depth == s.shape.size()) {
    if (s.kind >= 0) {
      throw Error(ErrorKind::Type, str("expected a number at dim ", depth, " (got a sequence of length ", n, ")"));
    }
    s.shape.push_back(n);
  } else if (s.shape[depth] != n) {
    throw Error(ErrorKind::Value, str("expected sequence of length ", s.shape[depth], " at dim ", depth, " (got ", n, ")"));
  }
  for (int64_t i = 0; i < n; ++i) scan(seq[i], depth + 1, s);
  if (n == 0 && s.kind < 0) {
    // An empty list: no elements to look at.
  }
}

template <typename T>
T number_as(py::handle h) {
  if (is_tensor(h)) {
    py::object v = item(h.cast<Tensor>());
    return number_as<T>(v);
  }
  if constexpr (std::is_same_v<T, bool>) return PyObject_IsTrue(h.ptr()) == 1;
  else if constexpr (std::is_same_v<T, int64_t>) {
    if (py::isinstance<py::float_>(h) || (py::hasattr(h, "dtype") && std::string(py::str(h.attr("dtype").attr("kind"))) == "f"))
      return static_cast<int64_t>(h.cast<double>());
    return h.cast<int64_t>();
  } else return static_cast<T>(h.cast<double>());
}

template <typename T>
void fill_from(py::handle h, size_t depth, const Shape& shape, T*& out) {
  if (depth == shape.size()) {
    *out++ = number_as<T>(h);
    return;
  }
  py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
  for (int64_t i = 0; i < shape[depth]; ++i) fill_from<T>(seq[i], depth + 1, shape, out);
}

DType numpy_dtype(const py::dtype& dt, bool for_copy) {
  char kind = dt.kind();
  size_t size = dt.itemsize();
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'b') return DType::Bool;
  if (for_copy) {
    if (kind == 'f' && size == 2) return DType::Float32;
    if (kind == 'i' || (kind == 'u' && size < 8)) return DType::Int64;
  }
  throw Error(ErrorKind::Type, str("can't convert np.ndarray of type numpy.",
                                   std::string(py::str(dt.attr("type").attr("__name__"))),
                                   ". The only supported types are: float64, float32, int64, and bool."
                                   + std::string(for_copy ? "" : " (ember.tensor() also converts smaller integer "
                                                                 "and float16 arrays by copying)")));
}

}  // namespace

Tensor from_numpy(py::array arr) {
  py::dtype dt = arr.dtype();
  DType t = numpy_dtype(dt, false);
  if (dt.byteorder() == '>') {
    throw Error(ErrorKind::Value, "given numpy array has byte order different from the native byte order. Conversion "
                                  "between byte orders is currently not supported. (in from_numpy; use "
                                  "arr.astype(arr.dtype.newbyteorder('=')) first)");
  }
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  Strides strides(arr.ndim());
  int64_t isz = static_cast<int64_t>(itemsize(t));
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    int64_t s = arr.strides()[i];
    if (s < 0) {
      throw Error(ErrorKind::Value, "At least one stride in the given numpy array is negative, and tensors with "
                                    "negative strides are not currently supported. (You can probably work around "
                                    "this by making a copy of your array with array.copy().)");
    }
    if (s % isz != 0) {
      throw Error(ErrorKind::Value, "given numpy array strides not a multiple of the element byte size. Copy the "
                                    "numpy array to reallocate the memory.");
    }
    strides[i] = s / isz;
  }
  if (!arr.writeable()) {
    PyErr_WarnEx(PyExc_UserWarning,
                 "The given NumPy array is not writable, and ember does not support non-writable tensors. This means "
                 "writing to this tensor will result in undefined behavior. You may want to copy the array to protect "
                 "its data or make it writable before converting it to a tensor.",
                 1);
  }
  int64_t span = 1;
  for (size_t i = 0; i < shape.size(); ++i) span += shape[i] == 0 ? 0 : (shape[i] - 1) * strides[i];
  bool empty_arr = shape_numel(shape) == 0;
  auto* keep = new py::object(arr);
  std::shared_ptr<void> owner(keep, [](void* p) {
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
  auto storage = Storage::wrap(const_cast<void*>(arr.data()), empty_arr ? 0 : static_cast<size_t>(span * isz), owner);
  return make_tensor(storage, 0, shape, strides, t);
}

Tensor tensor_from_data(py::handle data, std::optional<DType> dtype) {
  if (is_tensor(data)) {
    Tensor src = data.cast<Tensor>();
    Tensor out = cast_copy(src, dtype.value_or(src.dtype()));
    return out;
  }
  if (py::isinstance<py::array>(data)) {
    py::array arr = py::reinterpret_borrow<py::array>(data);
    DType t = numpy_dtype(arr.dtype(), true);
    if (arr.dtype().kind() == 'f' && arr.dtype().itemsize() == 2) arr = arr.attr("astype")("float32");
    else if (arr.dtype().kind() == 'u' || (arr.dtype().kind() == 'i' && arr.dtype().itemsize() != 8))
      arr = arr.attr("astype")("int64");
    if (arr.dtype().byteorder() == '>') arr = arr.attr("astype")(arr.dtype().attr("newbyteorder")("="));
    if (arr.ndim() > 0) {
      bool neg = false;
      for (py::ssize_t i = 0; i < arr.ndim(); ++i) neg |= arr.strides()[i] < 0;
      if (neg) arr = numpy().attr("ascontiguousarray")(arr);
    }
    Tensor view = from_numpy(arr);
    return cast_copy(view, dtype.value_or(t));
  }
  Scan s;
  scan(data, 0, s);
  DType t = dtype.value_or(s.kind < 0 ? DType::Float32 : s.widest);
  Tensor out = empty(s.shape, t);
  switch (t) {
    case DType::Bool: { bool* p = out.data<bool>(); fill_from<bool>(data, 0, s.shape, p); break; }
    case DType::Int64: { int64_t* p = out.data<int64_t>(); fill_from<int64_t>(data, 0, s.shape, p); break; }
    case DType::Float32: { float* p = out.data<float>(); fill_from<float>(data, 0, s.shape, p); break; }
    case DType::Float64: { double* p = out.data<double>(); fill_from<double>(data, 0, s.shape, p); break; }
  }
  return out;
}

namespace {
py::object element(const char* p, DType t) {
  switch (t) {
    case DType::Bool: return py::bool_(*reinterpret_cast<const bool*>(p));
    case DType::Int64: return py::int_(*reinterpret_cast<const int64_t*>(p));
    case DType::Float32: return py::float_(*reinterpret_cast<const float*>(p));
    case DType::Float64: return py::float_(*reinterpret_cast<const double*>(p));
  }
  return py::none();
}

py::object tolist_rec(const Tensor& t, const char* p, size_t d) {
  if (d == static_cast<size_t>(t.dim())) return element(p, t.dtype());
  int64_t n = t.shape()[d];
  py::list out(n);
  int64_t step = t.strides()[d] * static_cast<int64_t>(itemsize(t.dtype()));
  for (int64_t i = 0; i < n; ++i) out[i] = tolist_rec(t, p + i * step, d + 1);
  return std::move(out);
}
}  // namespace

py::object tolist(const Tensor& t) { return tolist_rec(t, t.raw_data(), 0); }

py::object item(const Tensor& t) {
  if (t.numel() != 1) {
    throw Error(ErrorKind::Runtime, str("a Tensor with ", t.numel(), " elements cannot be converted to Scalar (in item: ",
                                        "shape ", shape_str(t.shape()), ")"));
  }
  return element(t.raw_data(), t.dtype());
}

py::buffer_info buffer_of(const TensorImpl& t) {
  // numpy asks for the buffer before __array__: refuse it as numpy() does (a BufferError
  // makes numpy fall back to __array__, which raises PyTorch's RuntimeError).
  if (const AutogradMeta* m = t.autograd(); m && (m->requires_grad || m->grad_fn)) {
    throw py::buffer_error("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  }
  std::string fmt;
  switch (t.dtype()) {
    case DType::Bool: fmt = "?"; break;
    case DType::Int64: fmt = py::format_descriptor<int64_t>::format(); break;
    case DType::Float32: fmt = py::format_descriptor<float>::format(); break;
    case DType::Float64: fmt = py::format_descriptor<double>::format(); break;
  }
  py::ssize_t isz = static_cast<py::ssize_t>(itemsize(t.dtype()));
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(s * isz);
  return py::buffer_info(t.raw_data(), isz, fmt, static_cast<py::ssize_t>(shape.size()), shape, strides, false);
}

void init_convert(py::module_& m) {
  m.def("_tensor", [](py::handle data, std::optional<DType> dtype) { return tensor_from_data(data, dtype); },
        py::arg("data"), py::arg("dtype") = py::none());
  m.def("from_numpy", [](py::handle arr) {
    if (!py::isinstance<py::array>(arr)) {
      throw Error(ErrorKind::Type, str("expected np.ndarray (got ", std::string(py::str(arr.get_type().attr("__name__"))), ")"));
    }
    return from_numpy(py::reinterpret_borrow<py::array>(arr));
  });
}

}  // namespace ember::py_bind

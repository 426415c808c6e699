// Ops as Tensor methods, operators and module functions. Each binding converts its
// arguments and calls one C++ op; large work runs without the GIL.
#include "autograd/grad_mode.h"
#include "common.h"

namespace ember::py_bind {

namespace {

using T = const Tensor&;

// Binds `f` as a method and as a module function (whose first argument is `input`).
template <typename F, typename... Extra>
void both(py::module_& m, TensorClass& cls, const char* name, F f, const Extra&... extra) {
  cls.def(name, f, extra...);
  m.def(name, f, py::arg("input"), extra...);
}

int64_t work_of(T a) { return a.numel(); }

// OP(a, b) with the GIL released when the operands are large (arguments converted first).
#define EMBER_NOGIL2(OP, A, B)                                                                        \
  ([&](const Tensor& x_, const Tensor& y_) {                                                          \
    return maybe_without_gil(std::max(x_.numel(), y_.numel()), [&] { return (OP)(x_, y_); });        \
  })(A, B)

// & and | are the logical ops on bool tensors; on numbers PyTorch's are bitwise (2 & 1 == 0),
// which ember does not have: refuse rather than answer logically.
void check_bitwise(T x, T y, const char* op) {
  T t = x.dtype() != DType::Bool ? x : y;
  if (t.dtype() == DType::Bool) return;
  const char* n = t.dtype() == DType::Float32 ? "Float" : t.dtype() == DType::Float64 ? "Double" : "Long";
  throw Error(ErrorKind::NotImplemented,
              str("\"", op, "_cpu\" not implemented for '", n, "' (ember's & and | take bool tensors only)"));
}

template <typename F>
py::object binary_operator(py::handle self, py::handle other, F f) {
  Tensor a = self.cast<Tensor>(), b;
  if (!try_operand(other, b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  Tensor r = maybe_without_gil(std::max(a.numel(), b.numel()), [&] { return f(a, b); });
  return py::cast(r);
}

py::object return_pair(const char* name, std::pair<Tensor, Tensor> p) {
  static py::object max_t, min_t;
  py::object& cls = std::string(name) == "max" ? max_t : min_t;
  if (!cls) {
    cls = py::module_::import("collections").attr("namedtuple")(name, py::make_tuple("values", "indices"));
    cls.attr("__module__") = "ember.return_types";
  }
  return cls(p.first, p.second);
}

template <bool IsMax>
py::object extreme(T a, py::handle dim, bool keepdim) {
  if (dim.is_none()) return py::cast(maybe_without_gil(work_of(a), [&] { return IsMax ? max(a) : min(a); }));
  Tensor other;
  if (is_tensor(dim)) {
    other = dim.cast<Tensor>();
    return py::cast(maybe_without_gil(std::max(a.numel(), other.numel()), [&] { return IsMax ? maximum(a, other) : minimum(a, other); }));
  }
  if (!PyIndex_Check(dim.ptr()))
    throw py::type_error(str(IsMax ? "max" : "min", "(): argument 'dim' must be int or a Tensor, not ",
                             Py_TYPE(dim.ptr())->tp_name));
  int64_t d = dim.cast<int64_t>();
  auto r = maybe_without_gil(work_of(a), [&] { return IsMax ? max(a, d, keepdim) : min(a, d, keepdim); });
  return return_pair(IsMax ? "max" : "min", std::move(r));
}

std::optional<Scalar> opt_scalar(py::handle h, const char* op) {
  if (h.is_none()) return std::nullopt;
  return scalar(h, op);
}

Tensor clamp_any(T a, py::handle lo, py::handle hi) {
  bool tensor_bounds = is_tensor(lo) || is_tensor(hi);
  if (!tensor_bounds) {
    auto l = opt_scalar(lo, "clamp"), h = opt_scalar(hi, "clamp");
    return maybe_without_gil(work_of(a), [&] { return clamp(a, l, h); });
  }
  Tensor tl = lo.is_none() ? Tensor() : operand(lo, "clamp");
  Tensor th = hi.is_none() ? Tensor() : operand(hi, "clamp");
  return maybe_without_gil(work_of(a), [&] { return clamp(a, tl, th); });
}

Tensor pow_any(T a, py::handle e) {
  Scalar s;
  if (try_scalar(e, s)) return maybe_without_gil(work_of(a), [&] { return pow(a, s); });
  return EMBER_NOGIL2(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(pow), a, operand(e, "pow"));
}

std::vector<int64_t> shape_vec(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

// ---- fast number slots
//
// `a + b` on two exact Tensors, or a Tensor and a Python float/int, skips pybind11's
// dispatcher (overload loop, argument casters): the slot below converts and calls the
// op. Anything else (numpy scalars, subclasses, NotImplemented cases, errors of
// conversion) calls the bound __add__/__radd__ methods, unchanged.

// A Python float or int (not bool) as a wrapped number; false for anything else.
bool fast_number(PyObject* o, Tensor& out) {
  if (PyFloat_CheckExact(o)) {
    out = wrapped_scalar(Scalar(PyFloat_AS_DOUBLE(o)));
    return true;
  }
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return false;
    }
    out = wrapped_scalar(Scalar(static_cast<int64_t>(v)));
    return true;
  }
  return false;
}

enum class Slot { Add, Sub, Mul, Div };
constexpr const char* kSlotNames[][2] = {
    {"__add__", "__radd__"}, {"__sub__", "__rsub__"}, {"__mul__", "__rmul__"}, {"__truediv__", "__rtruediv__"}};

// The general case, as CPython's own slot for a class with __add__/__radd__ would do it:
// self.__add__(other), then other.__radd__(self) for a different type.
template <Slot S>
PyObject* general_slot(PyObject* a, PyObject* b) {
  const auto& names = kSlotNames[static_cast<int>(S)];
  if (is_tensor(a)) {
    PyObject* r = PyObject_CallMethod(a, names[0], "O", b);
    if (r != Py_NotImplemented || !is_tensor(b) || Py_TYPE(a) == Py_TYPE(b)) return r;
    Py_DECREF(r);
  }
  if (is_tensor(b)) return PyObject_CallMethod(b, names[1], "O", a);
  Py_RETURN_NOTIMPLEMENTED;
}

template <Slot S>
Tensor slot_op(const Tensor& x, const Tensor& y) {
  if constexpr (S == Slot::Add) return add(x, y);
  if constexpr (S == Slot::Sub) return sub(x, y);
  if constexpr (S == Slot::Mul) return mul(x, y);
  return div(x, y);
}

template <Slot S>
PyObject* fast_slot(PyObject* a, PyObject* b) {
  constexpr bool commutes = S == Slot::Add || S == Slot::Mul;  // __radd__/__rmul__ compute op(self, other)
  Tensor x, y;
  if (const auto* ha = tensor_holder(a)) {
    x = Tensor(*ha);
    if (const auto* hb = tensor_holder(b)) y = Tensor(*hb);
    else if (!fast_number(b, y)) return general_slot<S>(a, b);
  } else if (const auto* hb = commutes ? tensor_holder(b) : nullptr) {
    x = Tensor(*hb);
    if (!fast_number(a, y)) return general_slot<S>(a, b);
  } else {
    return general_slot<S>(a, b);
  }
  try {
    Tensor r = maybe_without_gil(std::max(x.numel(), y.numel()), [&] { return slot_op<S>(x, y); });
    return py::cast(r).release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

template <Slot S>
void install_slot(binaryfunc& slot) {
  slot = &fast_slot<S>;
}

}  // namespace

void init_ops(py::module_& m, TensorClass& cls) {
  auto kw_alpha = py::arg("alpha") = 1;
  // ---- arithmetic
  both(m, cls, "add", [](T a, py::handle b, py::handle alpha) {
    Tensor bt = operand(b, "add");
    Scalar al = scalar(alpha, "add");
    return maybe_without_gil(work_of(a), [&] { return add(a, bt, al); });
  }, py::arg("other"), py::kw_only(), kw_alpha);
  both(m, cls, "sub", [](T a, py::handle b, py::handle alpha) {
    Tensor bt = operand(b, "sub");
    Scalar al = scalar(alpha, "sub");
    return maybe_without_gil(work_of(a), [&] { return sub(a, bt, al); });
  }, py::arg("other"), py::kw_only(), kw_alpha);
  // PyTorch's module functions also take a Python number as `input`: torch.sub(2, x).
  m.def("add", [](py::handle a, T b, py::handle alpha) { return add(operand(a, "add"), b, scalar(alpha, "add")); },
        py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  m.def("sub", [](py::handle a, T b, py::handle alpha) { return sub(operand(a, "sub"), b, scalar(alpha, "sub")); },
        py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  m.def("mul", [](py::handle a, T b) { return mul(operand(a, "mul"), b); }, py::arg("input"), py::arg("other"));
  both(m, cls, "mul", [](T a, py::handle b) {
    Tensor bt = operand(b, "mul");
    return maybe_without_gil(work_of(a), [&] { return mul(a, bt); });
  }, py::arg("other"));
  both(m, cls, "div", [](T a, py::handle b, py::handle rounding_mode) {
    EMBER_CHECK(rounding_mode.is_none(), "div: rounding_mode is not supported by ember yet");
    Tensor bt = operand(b, "div");
    return maybe_without_gil(work_of(a), [&] { return div(a, bt); });
  }, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  both(m, cls, "true_divide", [](T a, py::handle b) { return EMBER_NOGIL2(div, a, operand(b, "true_divide")); }, py::arg("other"));
  m.def("div", [](py::handle a, T b) { return EMBER_NOGIL2(div, operand(a, "div"), b); }, py::arg("input"), py::arg("other"));
  m.def("true_divide", [](py::handle a, T b) { return EMBER_NOGIL2(div, operand(a, "true_divide"), b); }, py::arg("input"),
        py::arg("other"));
  both(m, cls, "pow", [](T a, py::handle e) { return pow_any(a, e); }, py::arg("exponent"));
  m.def("pow", [](py::handle base, T e) {
    Scalar s = scalar(base, "pow");
    return maybe_without_gil(work_of(e), [&] { return pow(s, e); });
  }, py::arg("self"), py::arg("exponent"));
  both(m, cls, "maximum", [](T a, T b) { return EMBER_NOGIL2(maximum, a, b); }, py::arg("other"));
  both(m, cls, "minimum", [](T a, T b) { return EMBER_NOGIL2(minimum, a, b); }, py::arg("other"));
  both(m, cls, "eq", [](T a, py::handle b) { return EMBER_NOGIL2(eq, a, operand(b, "eq")); }, py::arg("other"));
  both(m, cls, "ne", [](T a, py::handle b) { return EMBER_NOGIL2(ne, a, operand(b, "ne")); }, py::arg("other"));
  both(m, cls, "lt", [](T a, py::handle b) { return EMBER_NOGIL2(lt, a, operand(b, "lt")); }, py::arg("other"));
  both(m, cls, "le", [](T a, py::handle b) { return EMBER_NOGIL2(le, a, operand(b, "le")); }, py::arg("other"));
  both(m, cls, "gt", [](T a, py::handle b) { return EMBER_NOGIL2(gt, a, operand(b, "gt")); }, py::arg("other"));
  both(m, cls, "ge", [](T a, py::handle b) { return EMBER_NOGIL2(ge, a, operand(b, "ge")); }, py::arg("other"));
  both(m, cls, "logical_and", [](T a, T b) { return EMBER_NOGIL2(logical_and, a, b); }, py::arg("other"));
  both(m, cls, "logical_or", [](T a, T b) { return EMBER_NOGIL2(logical_or, a, b); }, py::arg("other"));
  both(m, cls, "logical_not", [](T a) { return maybe_without_gil(work_of(a), [&] { return logical_not(a); }); });

  // ---- unary math
#define EMBER_UNARY(NAME) both(m, cls, #NAME, [](T a) { return maybe_without_gil(work_of(a), [&] { return NAME(a); }); })
  EMBER_UNARY(neg);
  EMBER_UNARY(exp);
  EMBER_UNARY(log);
  EMBER_UNARY(sqrt);
  EMBER_UNARY(tanh);
  EMBER_UNARY(sigmoid);
  EMBER_UNARY(relu);
  EMBER_UNARY(abs);
  EMBER_UNARY(sin);
  EMBER_UNARY(cos);
  EMBER_UNARY(sign);
  EMBER_UNARY(reciprocal);
#undef EMBER_UNARY
  both(m, cls, "negative", [](T a) { return maybe_without_gil(work_of(a), [&] { return neg(a); }); });
  both(m, cls, "clamp", [](T a, py::handle lo, py::handle hi) { return clamp_any(a, lo, hi); },
       py::arg("min") = py::none(), py::arg("max") = py::none());
  both(m, cls, "clip", [](T a, py::handle lo, py::handle hi) { return clamp_any(a, lo, hi); },
       py::arg("min") = py::none(), py::arg("max") = py::none());
  m.def("where", [](T cond, py::handle a, py::handle b) {
    Tensor x = operand(a, "where"), y = operand(b, "where");
    return maybe_without_gil(work_of(cond), [&] { return where(cond, x, y); });
  },
        py::arg("condition"), py::arg("input"), py::arg("other"));
  cls.def("where", [](T self, T cond, py::handle other) {
    Tensor y = operand(other, "where");
    return maybe_without_gil(work_of(cond), [&] { return where(cond, self, y); });
  },
          py::arg("condition"), py::arg("other"));

  // ---- reductions
  both(m, cls, "sum", [](T a, py::handle dim, bool keepdim, std::optional<DType> dtype) {
    if (dim.is_none()) return maybe_without_gil(work_of(a), [&] { return sum(a, dtype); });
    auto dims = dims_arg(dim, "sum");
    return maybe_without_gil(work_of(a), [&] { return sum(a, dims, keepdim, dtype); });
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());
  both(m, cls, "mean", [](T a, py::handle dim, bool keepdim, std::optional<DType> dtype) {
    if (dim.is_none()) return maybe_without_gil(work_of(a), [&] { return mean(a, dtype); });
    auto dims = dims_arg(dim, "mean");
    return maybe_without_gil(work_of(a), [&] { return mean(a, dims, keepdim, dtype); });
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());
  both(m, cls, "max", [](T a, py::handle dim, bool keepdim) { return extreme<true>(a, dim, keepdim); },
       py::arg("dim") = py::none(), py::arg("keepdim") = false);
  both(m, cls, "min", [](T a, py::handle dim, bool keepdim) { return extreme<false>(a, dim, keepdim); },
       py::arg("dim") = py::none(), py::arg("keepdim") = false);
  both(m, cls, "argmax", [](T a, std::optional<int64_t> dim, bool keepdim) { return maybe_without_gil(work_of(a), [&] { return argmax(a, dim, keepdim); }); },
       py::arg("dim") = py::none(), py::arg("keepdim") = false);
  both(m, cls, "argmin", [](T a, std::optional<int64_t> dim, bool keepdim) { return maybe_without_gil(work_of(a), [&] { return argmin(a, dim, keepdim); }); },
       py::arg("dim") = py::none(), py::arg("keepdim") = false);

  // ---- linear algebra
  auto gemm_work = [](T a, T b) { return a.numel() * (b.dim() ? b.shape()[b.dim() - 1] : 1); };
  both(m, cls, "mm", [=](T a, T b) { return maybe_without_gil(gemm_work(a, b), [&] { return mm(a, b); }); }, py::arg("mat2"));
  both(m, cls, "addmm", [=](T self, T m1, T m2, py::handle beta, py::handle alpha) {
    Scalar b = scalar(beta, "addmm"), a = scalar(alpha, "addmm");
    return maybe_without_gil(gemm_work(m1, m2), [&] { return addmm(self, m1, m2, b, a); });
  }, py::arg("mat1"), py::arg("mat2"), py::kw_only(), py::arg("beta") = 1, py::arg("alpha") = 1);
  cls.def("addmm_", [=](py::object self, T m1, T m2, py::handle beta, py::handle alpha) {
    Tensor s = self.cast<Tensor>();
    Scalar b = scalar(beta, "addmm_"), a = scalar(alpha, "addmm_");
    maybe_without_gil(gemm_work(m1, m2), [&] { addmm_(s, m1, m2, b, a); });
    return self;
  }, py::arg("mat1"), py::arg("mat2"), py::kw_only(), py::arg("beta") = 1, py::arg("alpha") = 1);
  both(m, cls, "mv", [](T a, T v) { return EMBER_NOGIL2(mv, a, v); }, py::arg("vec"));
  both(m, cls, "dot", [](T a, T b) { return EMBER_NOGIL2(dot, a, b); }, py::arg("other"));
  both(m, cls, "bmm", [=](T a, T b) { return maybe_without_gil(gemm_work(a, b), [&] { return bmm(a, b); }); }, py::arg("mat2"));
  both(m, cls, "matmul", [=](T a, T b) { return maybe_without_gil(gemm_work(a, b), [&] { return matmul(a, b); }); },
       py::arg("other"));

  // ---- shape
  cls.def("view", [](T a, py::args shape) {
    if (shape.size() == 1 && !PyLong_Check(shape[0].ptr()) && !py::isinstance<py::sequence>(shape[0])) {
      throw Error(ErrorKind::Type, "view(): ember does not support viewing as another dtype; pass sizes");
    }
    return view(a, sizes_from_args(shape, "view"));
  });
  cls.def("reshape", [](T a, py::args shape) { return reshape(a, sizes_from_args(shape, "reshape")); });
  m.def("reshape", [](T a, py::handle shape) { return reshape(a, int_list(shape, "reshape")); }, py::arg("input"),
        py::arg("shape"));
  cls.def("view_as", [](T a, T o) { return view(a, shape_vec(o.shape())); }, py::arg("other"));
  cls.def("reshape_as", [](T a, T o) { return reshape(a, shape_vec(o.shape())); }, py::arg("other"));
  both(m, cls, "t", [](T a) { return t(a); });
  cls.def_property_readonly("T", [](T a) {
    std::vector<int64_t> dims;
    for (int64_t d = a.dim() - 1; d >= 0; --d) dims.push_back(d);
    return permute(a, dims);  // PermuteBackward0 for every dim, as PyTorch's numpy_T
  });
  both(m, cls, "transpose", [](T a, int64_t d0, int64_t d1) { return transpose(a, d0, d1); }, py::arg("dim0"),
       py::arg("dim1"));
  both(m, cls, "swapaxes", [](T a, int64_t d0, int64_t d1) { return transpose(a, d0, d1); }, py::arg("axis0"),
       py::arg("axis1"));
  cls.def("permute", [](T a, py::args dims) { return permute(a, sizes_from_args(dims, "permute")); });
  m.def("permute", [](T a, py::handle dims) { return permute(a, int_list(dims, "permute")); }, py::arg("input"),
        py::arg("dims"));
  both(m, cls, "unsqueeze", [](T a, int64_t dim) { return unsqueeze(a, dim); }, py::arg("dim"));
  both(m, cls, "squeeze", [](T a, py::handle dim) {
    if (dim.is_none()) return squeeze(a);
    if (PyLong_Check(dim.ptr())) return squeeze(a, dim.cast<int64_t>());
    return squeeze(a, int_list(dim, "squeeze"));
  }, py::arg("dim") = py::none());
  cls.def("expand", [](T a, py::args sizes) { return expand(a, sizes_from_args(sizes, "expand")); });
  cls.def("expand_as", [](T a, T o) { return expand(a, shape_vec(o.shape())); }, py::arg("other"));
  both(m, cls, "flatten", [](T a, int64_t s, int64_t e) { return flatten(a, s, e); }, py::arg("start_dim") = 0,
       py::arg("end_dim") = -1);
  cls.def("contiguous", [](T a) { return maybe_without_gil(work_of(a), [&] { return contiguous(a); }); });
  both(m, cls, "clone", [](T a) { return maybe_without_gil(work_of(a), [&] { return clone(a); }); });
  both(m, cls, "detach", [](T a) { return detach(a); });
  cls.def("float", [](T a) { return to_dtype(a, DType::Float32); });
  cls.def("double", [](T a) { return to_dtype(a, DType::Float64); });
  cls.def("long", [](T a) { return to_dtype(a, DType::Int64); });
  cls.def("bool", [](T a) { return to_dtype(a, DType::Bool); });
  cls.def("_to_dtype", [](T a, DType dt, bool copy) {
    return maybe_without_gil(work_of(a), [&] { return copy && a.dtype() == dt ? clone(a) : to_dtype(a, dt); });
  });

  // ---- in-place (return self, the same Python object)
  cls.def("add_", [](py::object self, py::handle b, py::handle alpha) {
    Tensor a = self.cast<Tensor>();
    Tensor bt = operand(b, "add_");
    Scalar al = scalar(alpha, "add_");
    maybe_without_gil(work_of(a), [&] { add_(a, bt, al); });
    return self;
  }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  cls.def("sub_", [](py::object self, py::handle b, py::handle alpha) {
    Tensor a = self.cast<Tensor>();
    Tensor bt = operand(b, "sub_");
    Scalar al = scalar(alpha, "sub_");
    maybe_without_gil(work_of(a), [&] { sub_(a, bt, al); });
    return self;
  }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  cls.def("mul_", [](py::object self, py::handle b) {
    Tensor a = self.cast<Tensor>();
    Tensor bt = operand(b, "mul_");
    maybe_without_gil(work_of(a), [&] { mul_(a, bt); });
    return self;
  }, py::arg("other"));
  cls.def("div_", [](py::object self, py::handle b) {
    Tensor a = self.cast<Tensor>();
    Tensor bt = operand(b, "div_");
    maybe_without_gil(work_of(a), [&] { div_(a, bt); });
    return self;
  }, py::arg("other"));
  cls.def("pow_", [](py::object self, py::handle e) {
    Tensor a = self.cast<Tensor>();
    Scalar s = scalar(e, "pow_");
    maybe_without_gil(work_of(a), [&] { pow_(a, s); });
    return self;
  }, py::arg("exponent"));
  cls.def("clamp_", [](py::object self, py::handle lo, py::handle hi) {
    Tensor a = self.cast<Tensor>();
    auto l = opt_scalar(lo, "clamp_"), h = opt_scalar(hi, "clamp_");
    maybe_without_gil(work_of(a), [&] { clamp_(a, l, h); });
    return self;
  }, py::arg("min") = py::none(), py::arg("max") = py::none());
  cls.def("zero_", [](py::object self) {
    Tensor a = self.cast<Tensor>();
    zero_(a);
    return self;
  });
  cls.def("fill_", [](py::object self, py::handle v) {
    Tensor a = self.cast<Tensor>();
    Scalar s;
    if (try_scalar(v, s)) fill_(a, s);
    else fill_(a, operand(v, "fill_"));
    return self;
  }, py::arg("value"));
  cls.def("copy_", [](py::object self, T src) {
    Tensor a = self.cast<Tensor>();
    maybe_without_gil(work_of(a), [&] { copy_(a, src); });
    return self;
  }, py::arg("src"));

  // ---- operators
  cls.def("__add__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return add(x, y); }); });
  cls.def("__radd__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return add(x, y); }); });
  cls.def("__sub__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return sub(x, y); }); });
  cls.def("__rsub__", [](py::handle a, py::handle b) -> py::object {
    Scalar s;
    if (!try_scalar(b, s)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(rsub(a.cast<Tensor>(), s));
  });
  cls.def("__mul__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return mul(x, y); }); });
  cls.def("__rmul__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return mul(x, y); }); });
  cls.def("__truediv__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return div(x, y); }); });
  cls.def("__rtruediv__", [](py::handle a, py::handle b) {
    return binary_operator(a, b, [](T x, T y) { return mul(reciprocal(x), y); });
  });
  cls.def("__pow__", [](py::handle a, py::handle b) -> py::object {
    Scalar s;
    if (try_scalar(b, s)) {
      Tensor x = a.cast<Tensor>();
      return py::cast(maybe_without_gil(work_of(x), [&] { return pow(x, s); }));
    }
    return binary_operator(a, b, [](T x, T y) { return pow(x, y); });
  });
  cls.def("__rpow__", [](py::handle a, py::handle b) -> py::object {
    Scalar s;
    if (!try_scalar(b, s)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    Tensor x = a.cast<Tensor>();
    return py::cast(maybe_without_gil(work_of(x), [&] { return pow(s, x); }));
  });
  cls.def("__matmul__", [](py::handle a, py::handle b) -> py::object {
    if (!is_tensor(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    Tensor x = a.cast<Tensor>(), y = b.cast<Tensor>();
    return py::cast(maybe_without_gil(x.numel() * (y.dim() ? y.shape()[y.dim() - 1] : 1), [&] { return matmul(x, y); }));
  });
  cls.def("__neg__", [](T a) { return maybe_without_gil(work_of(a), [&] { return neg(a); }); });
  cls.def("__pos__", [](T a) { return a; });
  cls.def("__abs__", [](T a) { return abs(a); });
  cls.def("__invert__", [](T a) {
    EMBER_CHECK_TYPE(a.dtype() == DType::Bool, "~ (bitwise not) is only supported for bool tensors in ember (got ",
                     dtype_name(a.dtype()), ")");
    return logical_not(a);
  });
  cls.def("__and__", [](py::handle a, py::handle b) {
    return binary_operator(a, b, [](T x, T y) { check_bitwise(x, y, "bitwise_and"); return logical_and(x, y); });
  });
  cls.def("__or__", [](py::handle a, py::handle b) {
    return binary_operator(a, b, [](T x, T y) { check_bitwise(x, y, "bitwise_or"); return logical_or(x, y); });
  });
  cls.def("__eq__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return eq(x, y); }); });
  cls.def("__ne__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return ne(x, y); }); });
  cls.def("__lt__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return lt(x, y); }); });
  cls.def("__le__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return le(x, y); }); });
  cls.def("__gt__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return gt(x, y); }); });
  cls.def("__ge__", [](py::handle a, py::handle b) { return binary_operator(a, b, [](T x, T y) { return ge(x, y); }); });
  auto inplace_op = [&](const char* name, const char* method) {
    cls.def(name, [method](py::object self, py::handle b) -> py::object {
      Tensor tmp;
      if (!try_operand(b, tmp)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
      return self.attr(method)(b);
    });
  };
  inplace_op("__iadd__", "add_");
  inplace_op("__isub__", "sub_");
  inplace_op("__imul__", "mul_");
  inplace_op("__itruediv__", "div_");
  auto* num = reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_as_number;
  install_slot<Slot::Add>(num->nb_add);
  install_slot<Slot::Sub>(num->nb_subtract);
  install_slot<Slot::Mul>(num->nb_multiply);
  install_slot<Slot::Div>(num->nb_true_divide);
  cls.def("__bool__", [](T a) {
    if (a.numel() != 1) {
      throw Error(ErrorKind::Runtime, str("Boolean value of Tensor with more than one value is ambiguous (shape ",
                                          shape_str(a.shape()), ")"));
    }
    return item(a).cast<bool>();
  });
  auto check_one = [](T a) {
    if (a.numel() != 1) {
      throw Error(ErrorKind::Value, str("only one element tensors can be converted to Python scalars (got shape ",
                                        shape_str(a.shape()), ")"));
    }
  };
  cls.def("__float__", [check_one](T a) { check_one(a); return item(a).cast<double>(); });
  cls.def("__int__", [check_one](T a) { check_one(a); return py::int_(item(a)); });
  cls.def("__index__", [](T a) {
    EMBER_CHECK_TYPE(a.dtype() == DType::Int64 && a.numel() == 1,
                     "only integer tensors of a single element can be converted to an index");
    return item(a).cast<int64_t>();
  });
}

}  // namespace ember::py_bind

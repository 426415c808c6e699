#include "common.h"

namespace ember::py_bind {

DTypeObject* dtype_object(DType t) {
  static DTypeObject objects[kNumDTypes] = {{DType::Bool}, {DType::Int64}, {DType::Float32}, {DType::Float64}};
  return &objects[static_cast<int>(t)];
}

py::object& size_class() {
  static py::object* cls = new py::object(py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyTuple_Type)));
  return *cls;
}

py::tuple to_size(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  if (size_class().ptr() == reinterpret_cast<PyObject*>(&PyTuple_Type)) return t;
  return size_class()(t);
}

void init_dtype(py::module_& m) {
  py::class_<DTypeObject>(m, "dtype")
      .def_property_readonly("is_floating_point", [](const DTypeObject& d) { return is_floating(d.value); })
      .def_property_readonly("itemsize", [](const DTypeObject& d) { return itemsize(d.value); })
      .def("__repr__", [](const DTypeObject& d) { return std::string("ember.") + dtype_name(d.value); })
      .def("__reduce__", [](const DTypeObject& d) { return std::string(dtype_name(d.value)); });
  for (DType t : {DType::Bool, DType::Int64, DType::Float32, DType::Float64})
    m.attr(dtype_name(t)) = py::cast(dtype_object(t), py::return_value_policy::reference);
  m.def("_set_size_class", [](py::object cls) { size_class() = std::move(cls); });
}

}  // namespace ember::py_bind

// Nodes (grad_fn), grad mode, the engine entry points, and the factories.
#include <sstream>

#include "autograd/anomaly_mode.h"
#include "autograd/engine.h"
#include "autograd/saved_variable.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "common.h"

namespace ember::py_bind {

namespace {

py::tuple next_functions(const Node& n) {
  const auto& edges = n.next_edges();
  py::tuple out(edges.size());
  for (size_t i = 0; i < edges.size(); ++i) {
    py::object f = node_to_py(edges[i].function);
    out[i] = py::make_tuple(f, edges[i].input_nr);
  }
  return out;
}

variable_list tensor_list(py::handle h, const char* op) {
  variable_list out;
  if (is_tensor(h)) {
    out.push_back(h.cast<Tensor>());
    return out;
  }
  for (py::handle e : py::reinterpret_borrow<py::iterable>(h)) {
    if (!is_tensor(e)) {
      throw Error(ErrorKind::Type, str(op, ": expected a Tensor or a sequence of Tensors, got an element of type ",
                                       std::string(py::str(e.get_type().attr("__name__")))));
    }
    out.push_back(e.cast<Tensor>());
  }
  return out;
}

variable_list grad_list(py::handle h, size_t n, const char* op) {
  variable_list out(n);
  if (h.is_none()) return out;
  if (is_tensor(h)) {
    EMBER_CHECK(n == 1, op, ": got 1 gradient for ", n, " outputs");
    out[0] = h.cast<Tensor>();
    return out;
  }
  size_t i = 0;
  for (py::handle e : py::reinterpret_borrow<py::iterable>(h)) {
    EMBER_CHECK(i < n, op, ": got more gradients than outputs (", n, ")");
    if (!e.is_none()) out[i] = operand(e, op);
    ++i;
  }
  EMBER_CHECK(i == n, op, ": got ", i, " gradients for ", n, " outputs");
  return out;
}

}  // namespace

void init_autograd(py::module_& m) {
  py::class_<Node, std::shared_ptr<Node>>(m, "Node", py::custom_type_setup(&node_gc_setup))
      .def("name", &Node::name)
      .def_property_readonly("next_functions", &next_functions)
      .def_property_readonly("variable", [](const Node& n) -> Tensor {
        auto* acc = dynamic_cast<const AccumulateGrad*>(&n);
        if (!acc) throw py::attribute_error(n.name() + " has no attribute 'variable' (only AccumulateGrad nodes do)");
        return acc->variable();
      })
      .def_property_readonly("_sequence_nr", &Node::sequence_nr)
      .def_property_readonly("creation_site", &creation_site)
      // grad_fn._saved_self, _saved_other, _saved_result ...: the tensors saved for backward,
      // as PyTorch names them (None where the op did not need to save one).
      .def("__getattr__", [](const std::shared_ptr<Node>& n, const std::string& attr) -> py::object {
        if (attr.rfind("_saved_", 0) == 0) {
          Node::SavedSlots saved = n->saved_variables();
          for (int i = 0; i < saved.size; ++i) {
            if (attr.compare(7, std::string::npos, saved.slot[i].first) != 0) continue;
            return py::cast(saved.slot[i].second->unpack_for_user(n.get()));
          }
        }
        throw py::attribute_error(str("'", n->name(), "' object has no attribute '", attr, "'"));
      })
      .def("__repr__", [](py::handle self) {
        std::ostringstream os;
        os << "<" << self.cast<const Node&>().name() << " object at 0x" << std::hex
           << reinterpret_cast<uintptr_t>(self.ptr()) << ">";
        return os.str();
      });

  m.def("is_grad_enabled", &GradMode::is_enabled);
  m.def("_set_grad_enabled", &GradMode::set_enabled);
  // One call for a context manager's __enter__: sets the mode, returns the previous one.
  m.def("_swap_grad_enabled", [](bool enabled) {
    bool prev = GradMode::is_enabled();
    GradMode::set_enabled(enabled);
    return prev;
  });
  m.def("_set_anomaly_enabled", &AnomalyMode::set_enabled, py::arg("enabled"), py::arg("check_nan") = true);
  m.def("is_anomaly_enabled", &AnomalyMode::is_enabled);
  m.def("is_anomaly_check_nan_enabled", &AnomalyMode::should_check_nan);

  m.def("_run_backward", [](py::handle tensors, py::handle grads, bool keep_graph, bool create_graph) {
    variable_list roots = tensor_list(tensors, "backward");
    variable_list gs = grad_list(grads, roots.size(), "backward");
    BackwardOptions opts{keep_graph, create_graph};
    SiteScope site(capture_site());  // nodes made by a create_graph backward, and the error texts, name this call
    py::gil_scoped_release release;
    run_backward(roots, gs, opts);
  });
  m.def("_run_grad", [](py::handle outputs, py::handle inputs, py::handle grads, bool keep_graph, bool create_graph,
                        bool allow_unused) {
    variable_list roots = tensor_list(outputs, "grad");
    variable_list ins = tensor_list(inputs, "grad");
    variable_list gs = grad_list(grads, roots.size(), "grad");
    BackwardOptions opts{keep_graph, create_graph};
    variable_list r;
    {
      SiteScope site(capture_site());
      py::gil_scoped_release release;
      r = run_grad(roots, gs, ins, opts, allow_unused);
    }
    py::tuple out(r.size());
    for (size_t i = 0; i < r.size(); ++i) out[i] = py::cast(r[i]);
    return out;
  });

  // ---- factories (the Python layer parses sizes, dtype, device and requires_grad)
  m.def("_full", [](std::vector<int64_t> shape, py::handle value, DType dt) {
    return full(Shape(shape.begin(), shape.end()), scalar(value, "full"), dt);
  });
  m.def("_empty", [](std::vector<int64_t> shape, DType dt) { return empty(Shape(shape.begin(), shape.end()), dt); });
  m.def("_randn", [](std::vector<int64_t> shape, DType dt) { return randn(Shape(shape.begin(), shape.end()), dt); });
  m.def("_rand", [](std::vector<int64_t> shape, DType dt) { return rand(Shape(shape.begin(), shape.end()), dt); });
  m.def("_arange", [](py::handle start, py::handle end, py::handle step, std::optional<DType> dt) {
    return arange(scalar(start, "arange"), scalar(end, "arange"), scalar(step, "arange"), dt);
  });
  m.def("_linspace", [](double start, double end, int64_t steps, DType dt) { return linspace(start, end, steps, dt); });
  m.def("_eye", [](int64_t n, int64_t mm, DType dt) { return eye(n, mm, dt); });
  m.def("manual_seed", [](py::handle seed) {
    int64_t s = seed.cast<int64_t>();
    manual_seed(static_cast<uint64_t>(s));
  }, py::arg("seed"));
  m.def("initial_seed", &initial_seed);
  m.def("_sum_to", [](const Tensor& t, std::vector<int64_t> shape) { return sum_to(t, Shape(shape.begin(), shape.end())); });
}

}  // namespace ember::py_bind

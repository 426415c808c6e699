// ember._C: the pybind11 module. Each init_* binds one area.
#include "common.h"
#include "core/interrupt.h"

namespace ember::py_bind {
namespace {

void register_errors() {
  py::register_exception_translator([](std::exception_ptr p) {
    // Ctrl-C during the op: KeyboardInterrupt, whatever the C++ exception that unwound it.
    if (restore_interrupt()) return;
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ember::interrupt::Interrupted&) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const ember::Error& e) {
      PyObject* type = PyExc_RuntimeError;
      switch (e.kind()) {
        case ErrorKind::Index: type = PyExc_IndexError; break;
        case ErrorKind::Type: type = PyExc_TypeError; break;
        case ErrorKind::Value: type = PyExc_ValueError; break;
        case ErrorKind::NotImplemented: type = PyExc_NotImplementedError; break;
        case ErrorKind::Runtime: break;
      }
      PyErr_SetString(type, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "ember: out of memory");
    } catch (const py::cast_error& e) {
      PyErr_SetString(PyExc_TypeError, e.what());  // an argument of the wrong type, as PyTorch says
    }
  });
}

}  // namespace
}  // namespace ember::py_bind

PYBIND11_MODULE(_C, m) {
  using namespace ember::py_bind;
  m.doc() = "ember's C++ core";
  register_errors();
  init_sites(m);
  init_dtype(m);
  init_tensor(m);
  init_convert(m);
  init_autograd(m);
  init_hooks(m);
  init_function(m);
  init_backend(m);
  init_interrupt(m);
}
